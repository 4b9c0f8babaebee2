"""The account page's browser fixtures, for the /docs tests: one headless Chromium and one
served keygate for the session, a fresh browser context per test."""

from tests.account.conftest import browser, http, server, visit

__all__ = ["browser", "http", "server", "visit"]
