"""The browser dashboard against a real stack: ``polybot up`` on the local venue (venue, state,
executor, scanner, analytics, runner, api) in a private data dir with private ipc sockets and free
ports, and headless Debian chromium driven by Playwright.

The user's path: log in with the token, watch live prices and the book, place an order from the
order ticket, see it fill and the position appear, survive an API restart (the badge shows the
reconnect), and flip the kill switch (then a new order is refused). Screenshots go to
``artifacts/ui/`` for docs/ui.md.

Needs: ``frontend/dist`` (built here when missing or older than the sources: ``npm run build``),
the ``playwright`` Python package and ``/usr/bin/chromium``. Playwright's own browser download is
not used.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from polybot.bus.messages import BookSnapshot
from polybot.bus.nng import Subscriber
from polybot.core.errors import BusTimeout
from polybot.stack.state import pid_alive
from polybot.testing.stack import IsolatedStack, wait_until

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (drives /usr/bin/chromium)"
)

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
ARTIFACTS = REPO / "artifacts" / "ui"
CHROMIUM = Path(os.environ.get("POLYBOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_WAIT_MS = 60_000  # generous: two shared cores run the whole stack plus chromium
# Assertions wait as long as page actions do: live data crosses venue → scanner → API →
# WebSocket → page, which takes seconds on a loaded 2-core machine (5 s is Playwright's default).
playwright_api.expect.set_options(timeout=UI_WAIT_MS)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def ensure_frontend_build() -> None:
    """Build ``frontend/dist`` when it is missing or older than any source file."""
    index = FRONTEND / "dist" / "index.html"
    sources = [
        p for p in [*FRONTEND.joinpath("src").rglob("*"), FRONTEND / "index.html"] if p.is_file()
    ]
    if index.is_file() and index.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("frontend/dist is missing or stale and npm is not installed to build it")
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[IsolatedStack]:
    """Start the whole default stack (executor in live mode against the local venue)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium")
    ensure_frontend_build()
    running = IsolatedStack(prefix="pbui-", executor_mode="live", markets=20)
    try:
        running.apply_env()
        assert "api" in {s.name for s in running.plan.services}, "the plan has no api service"
        running.start()
        yield running
    finally:
        leftovers = running.stop()
    assert not leftovers, f"left behind after polybot down: {leftovers}"


@pytest.fixture(scope="module")
def page(stack: IsolatedStack) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(UI_WAIT_MS)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("dialog", lambda dialog: dialog.accept())  # the kill switch asks to confirm
        tab.page_errors = errors
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def pick_book(settings: Any) -> tuple[str, str, float]:
    """Return (market, token, best ask) of a book the scanner publishes with a sane ask."""
    with Subscriber(settings.bus.prices_pub, topics=[]) as prices:
        prices.subscribe_to(BookSnapshot)

        def seen() -> tuple[str, str, float] | None:
            try:
                book = prices.recv(timeout=0.5)
            except BusTimeout:
                return None
            if isinstance(book, BookSnapshot) and book.asks and 0.05 <= book.asks[0].price <= 0.9:
                return book.market_id, book.token_id, book.asks[0].price
            return None

        picked: tuple[str, str, float] = wait_until(seen, 90, "a book with asks on prices.pub")
        return picked


@pytest.fixture
def http(stack: IsolatedStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


def test_trade_from_the_browser_on_a_live_stack(
    stack: IsolatedStack, page: Any, http: httpx.Client
) -> None:
    expect = playwright_api.expect
    base = stack.api_url

    # --- log in: a wrong token is refused, the right one opens the live connection
    page.goto(f"{base}/ui/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.get_by_test_id("login-token").fill("not-the-token")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("refused")
    shot(page, "01-login")
    page.get_by_test_id("login-token").fill(stack.token())
    page.get_by_test_id("login-submit").click()
    badge = page.get_by_test_id("connection-state")
    expect(badge).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("service-health")).to_contain_text("executor")

    # --- live prices: the book and the chart of a market the scanner is publishing
    market_id, token_id, ask = pick_book(stack.settings)
    market = http.get(f"/markets/{market_id}").raise_for_status().json()
    outcome = "yes" if token_id == market["yes_token_id"] else "no"
    page.goto(f"{base}/ui/markets/{market_id}")
    expect(page.get_by_test_id("market-detail")).to_contain_text(market["question"])
    page.get_by_test_id(f"outcome-{outcome}").click()
    expect(page.get_by_test_id("book-ask").first).to_be_visible()
    # The chart fills from live mids (and recorded history): wait until it has points.
    chart = page.get_by_test_id("line-chart")
    expect(chart).not_to_have_attribute("data-points", "0")
    expect(chart.locator("path")).to_have_attribute(
        "d", re.compile(r"^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)*$")
    )
    # Live messages reach the page over the WebSocket (the chart may have filled from REST).
    expect(badge).to_contain_text(re.compile(r"· [1-9]\d* msgs"))
    received = int(badge.inner_text().split("·")[1].split()[0])
    assert received > 0, "no live messages reached the page"
    shot(page, "02-markets")

    # --- place a marketable BUY from the ticket. Hand-placed orders (strategy 'manual') trade
    # live by default; automated strategies start in shadow (tests/execution covers both).
    tick = Decimal(market["tick_size"])
    limit = min(Decimal(str(ask)) + 2 * tick, Decimal(1) - tick).quantize(tick)
    # At least the venue's minimum shares and $1.50 of notional (a marketable BUY needs $1).
    size = max(
        Decimal(market["min_order_size"]), (Decimal("1.5") / limit).to_integral_value(ROUND_UP)
    )
    page.get_by_test_id("ticket-action").select_option(f"BUY_{outcome.upper()}")
    page.get_by_test_id("ticket-price").fill(str(limit))
    page.get_by_test_id("ticket-size").fill(str(size))
    page.get_by_test_id("ticket-submit").click()
    verdict = page.get_by_test_id("ticket-verdict")
    expect(verdict).to_contain_text("Accepted")
    # Live prices: bid and ask come only over the WebSocket (prices, or the shown token's book
    # deltas; the REST list carries mids). A quiet market may not move for minutes, but our own
    # marketable order changes this token's book, so an update must arrive now.
    live_price = re.compile(r"^\d\.\d{3}$")
    expect(page.get_by_test_id("live-bid")).to_have_text(live_price)
    expect(page.get_by_test_id("live-ask")).to_have_text(live_price)
    shot(page, "03-order-ticket")

    # --- the order fills (live order update) and the position appears
    page.get_by_test_id("nav-orders").click()
    filled = page.get_by_test_id("order-row").filter(has_text="manual")
    expect(filled.first).to_have_attribute("data-status", "MATCHED")
    shot(page, "04-orders")
    page.get_by_test_id("nav-positions").click()
    position = page.get_by_test_id("position-row").filter(has_text="manual")
    expect(position.first).to_be_visible()
    held = Decimal(position.first.get_by_test_id("position-size").inner_text().replace(",", ""))
    assert held == size
    shot(page, "05-positions")

    # --- the API restarts (supervisor respawns it): the page shows the outage and reconnects
    old_pid = stack.service_pid("api")
    os.kill(old_pid, signal.SIGKILL)
    expect(badge).not_to_have_attribute("data-state", "open")
    wait_until(
        lambda: stack.service_pid("api") not in (0, old_pid), 120, "the supervisor to restart api"
    )
    expect(badge).to_have_attribute("data-state", "open", timeout=120_000)

    # --- kill switch: on from the risk page, then the ticket's orders are refused
    page.get_by_test_id("nav-risk").click()
    expect(page.get_by_test_id("kill-state")).to_have_text("off")
    page.get_by_test_id("kill-toggle").click()
    expect(page.get_by_test_id("kill-state")).to_have_text("ON")
    assert http.get("/risk").raise_for_status().json()["kill_switch"] is True
    shot(page, "06-risk-kill-switch")
    page.get_by_test_id("nav-overview").click()
    expect(page.get_by_test_id("kill-banner")).to_be_visible()
    expect(page.get_by_test_id("event-row").first).to_be_visible()
    shot(page, "00-overview")
    page.goto(f"{base}/ui/markets/{market_id}")
    page.get_by_test_id("ticket-price").fill(str(limit))
    page.get_by_test_id("ticket-size").fill(str(size))
    page.get_by_test_id("ticket-submit").click()
    refusal = page.get_by_test_id("ticket-verdict").or_(page.get_by_test_id("ticket-failure"))
    expect(refusal).to_contain_text(re.compile(r"Refused|kill", re.IGNORECASE))

    assert page.page_errors == [], f"uncaught errors in the page: {page.page_errors}"
    assert pid_alive(stack.service_pid("api"))
