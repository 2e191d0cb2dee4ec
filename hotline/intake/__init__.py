"""Intake channels (一号对外): voice, SMS, online hall, window, chat — all into one ticket model."""
