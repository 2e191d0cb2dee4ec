"""Twilio SMS webhooks (to be built)."""
