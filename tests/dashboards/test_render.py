"""Each dashboard loads in headless Chromium (Playwright) from ``polybot dashboards`` (Voila).

The dashboards run against a real stack; the checks wait for the rendered widgets and plots
(selectors, never sleeps), assert they show live data rather than error panels, and save a
screenshot of each page under ``artifacts/dashboards/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from stack_helpers import REPO_ROOT, RunningStack, free_port

# Generous per-test limits: the first test also pays for starting the stack (and Voila).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
playwright = pytest.importorskip("playwright.sync_api")

ARTIFACTS = REPO_ROOT / "artifacts" / "dashboards"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOAD_TIMEOUT_MS = 120_000  # a cold kernel on a loaded 2-core machine

# What each page must show once rendered: CSS selectors that only exist with real content.
EXPECTED = {
    "market_monitor": [
        ".pb-live-health .pb-health",
        ".pb-live-table table.pb-prices tbody tr",
        ".pb-live-book .pb-book table",
        ".js-plotly-plot .main-svg",
    ],
    "portfolio": [".pb-positions", ".pb-risk .pb-kv", ".js-plotly-plot"],
    "strategy_performance": [
        ".pb-strategy-stats",
        ".pb-strategy-runs",
        ".pb-strategy-logs",
        "select",
    ],
    "arbitrage_scanner": [".pb-live-health .pb-health", ".pb-arbitrage table tbody tr"],
}


@pytest.fixture(scope="module")
def voila(stack: RunningStack) -> Iterator[str]:
    """Serve the dashboards with the real CLI command; yield the base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "polybot.cli.main", "dashboards", "--port", str(port)],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/voila/render/portfolio.ipynb", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.stdout else ""
                    pytest.fail(f"voila did not come up:\n{output[-3000:]}")
                time.sleep(0.25)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


@pytest.fixture(scope="module")
def browser(voila: str) -> Iterator[object]:
    """One headless Chromium for the module."""
    with playwright.sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_renders_live_widgets(voila: str, browser: object, name: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        page.goto(f"{voila}/voila/render/{name}.ipynb", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        for selector in EXPECTED[name]:
            page.wait_for_selector(selector, state="attached", timeout=LOAD_TIMEOUT_MS)
        # Rendered, not failed: no error panel, no Python traceback in any output.
        assert page.locator(".pb-error").count() == 0, page.locator(".pb-error").all_inner_texts()
        stderr = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, stderr.all_inner_texts()
        assert "Traceback" not in page.inner_text("body")
        assert not console_errors, console_errors
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        page.close()


def test_market_monitor_keeps_updating(voila: str, browser: object) -> None:
    """The price table is redrawn in place from the live feed (the health count grows)."""
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(
            f"{voila}/voila/render/market_monitor.ipynb", wait_until="load", timeout=LOAD_TIMEOUT_MS
        )
        health = page.locator(".pb-live-health .pb-health")
        health.wait_for(timeout=LOAD_TIMEOUT_MS)
        first = health.inner_text()
        page.wait_for_function(
            "(first) => document.querySelector('.pb-live-health .pb-health').innerText !== first",
            arg=first,
            timeout=LOAD_TIMEOUT_MS,
        )
    finally:
        page.close()
