"""The Twilio REST client, built from configuration (None when no credentials are set)."""

from __future__ import annotations

from flask import current_app
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# Seconds before a REST call gives up: `send_message` holds the message's row lock
# while it waits, so the wait must be bounded.
DEFAULT_TIMEOUT = 10.0


def credentials_configured() -> bool:
    config = current_app.config
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"))


def rest_client() -> Client | None:
    """A `twilio.rest.Client` for the configured account, or None without credentials.

    `TWILIO_HTTP_CLIENT` (a `twilio.http.HttpClient`) replaces the network: tests pass
    one that records the exact request the SDK would send.
    """
    if not credentials_configured():
        return None
    config = current_app.config
    http_client: HttpClient | None = config.get("TWILIO_HTTP_CLIENT")
    if http_client is None:
        http_client = TwilioHttpClient(timeout=config.get("TWILIO_HTTP_TIMEOUT", DEFAULT_TIMEOUT))
    return Client(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client
    )
