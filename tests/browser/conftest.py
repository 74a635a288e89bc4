"""Browser tests: Debian's chromium driven by Playwright against a live gateway on loopback.

One browser for the whole session (starting one costs a second or two); each test gets
a fresh context (its own cookies) with a 1280x800 viewport. Without a browser the tests
are skipped, unless ``GATEHOUSE_BROWSER_REQUIRED=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 800}


def _chromium_path() -> Path:
    return Path(os.environ.get("GATEHOUSE_CHROMIUM") or "/usr/bin/chromium")


def _without_browser(reason: str) -> None:
    if os.environ.get("GATEHOUSE_BROWSER_REQUIRED") == "1":
        pytest.fail(f"GATEHOUSE_BROWSER_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    chromium = _chromium_path()
    if not os.access(chromium, os.X_OK):
        _without_browser(f"no chromium at {chromium} (set GATEHOUSE_CHROMIUM)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _without_browser("the playwright package is not installed")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        except Error as exc:
            _without_browser(f"chromium at {chromium} does not start: {exc.message}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser, gateway) -> Iterator:
    """A page of a fresh browser context whose relative URLs go to the live gateway."""
    context = browser.new_context(viewport=VIEWPORT, base_url=gateway)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()
