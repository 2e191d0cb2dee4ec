"""Twilio voice webhooks (to be built)."""
