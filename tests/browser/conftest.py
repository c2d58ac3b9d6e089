"""Browser fixtures: the app served by uvicorn on a loopback port, and headless Chromium
(Debian's, driven by Playwright with ``executable_path``; no downloaded browser).

The server shares the test's ``ctx``, so it uses the test's ``FixedClock``: a test moves
time and computes TOTP codes from the same clock the server reads.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from consent_service.app import create_app
from consent_service.context import AppContext

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 10.0
# How long an action, a navigation or an expectation may wait. Generous on purpose: a
# passing check returns as soon as it holds, and on a loaded two-core machine (two test
# workers, Argon2 at every login) a login's click-and-navigate has taken over 10 s, and a
# page load once did with the server answering in 50 ms.
UI_TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = UI_TIMEOUT_MS
expect.set_options(timeout=UI_TIMEOUT_MS)
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def live_server(ctx: AppContext) -> Iterator[str]:
    """The app for ``ctx``, served on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            pytest.fail("the test server did not start")
        time.sleep(0.01)  # wall-clock wait for the server thread; the app's clock is FixedClock
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh browser context (own cookies) for each test."""
    context = browser.new_context(locale="da-DK")
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Makes pages in further fresh contexts: a second person, or a browser without cookies."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(locale="da-DK")
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
