"""Browser tests' fixtures (`live_server`, `browser`, `page`: tests/web/browser.py),
registered once for every module of tests/web."""

from tests.web.browser import (  # noqa: F401  (registered as fixtures by name)
    browser_fixture,
    live_server_fixture,
    page_fixture,
)
