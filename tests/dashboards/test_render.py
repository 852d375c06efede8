"""Each dashboard loads in headless Chromium (Playwright) from ``polybot dashboards`` (Voila).

The dashboards run against a real stack in which the test has bought a few shares (so the
portfolio and strategy pages have something to show). The checks wait, with deadlines and never
fixed sleeps, for the rendered widgets and for real content: table rows, and plots whose data
reached plotly in the page and was drawn (line vertices, markers, bars) — the mid chart must also
grow while the stack runs. They assert no error panel or traceback, and save a screenshot of each
page and of each plot under ``artifacts/dashboards/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from stack_helpers import REPO_ROOT, NotebookStack

from polybot.testing.stack import free_port, wait_until

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
CONTENT_TIMEOUT_MS = 90_000  # live data (and the analytics' 5 s stats job) after the page is up

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

# The state of the plotly plot titled ``title`` as the page drew it: the data plotly holds
# (points over all traces, the newest x in ms) and what is on screen (vertices of the longest
# line, marker and bar shapes). null while no such plot exists.
PLOT_STATE_JS = """(title) => {
  const el = Array.from(document.querySelectorAll('.js-plotly-plot')).find(
    (e) => e._fullLayout && e._fullLayout.title && e._fullLayout.title.text === title);
  if (!el) return null;
  const xs = (el.calcdata || []).flat().map((d) => d.x)
    .filter((x) => typeof x === 'number' && Number.isFinite(x));
  const lines = Array.from(el.querySelectorAll('.scatterlayer .trace path.js-line'))
    .map((path) => ((path.getAttribute('d') || '').match(/[ML]/g) || []).length);
  return {
    traces: (el._fullData || []).length,
    points: (el._fullData || []).reduce((n, t) => n + ((t.x && t.x.length) || 0), 0),
    last: xs.length ? xs.reduce((a, b) => Math.max(a, b)) : null,
    vertices: lines.length ? Math.max(...lines) : 0,
    markers: el.querySelectorAll('.scatterlayer .trace .points path').length,
    bars: el.querySelectorAll('.barlayer .point path').length,
  };
}"""
MID_CHART = "mid"
EQUITY_CHART = "equity (realized + unrealized PnL)"
EXPOSURE_CHART = "exposure by market"


def plot_state(page: Any, title: str) -> dict[str, Any] | None:
    """Return ``PLOT_STATE_JS`` for the plot titled ``title``."""
    state: dict[str, Any] | None = page.evaluate(PLOT_STATE_JS, title)
    return state


def wait_for_plot(page: Any, title: str, condition: str, **baseline: Any) -> dict[str, Any]:
    """Wait until the plot's state ``s`` satisfies the JS ``condition`` (``a``: the baseline)."""
    check = f"(a) => {{ const s = ({PLOT_STATE_JS})(a.title); return !!s && ({condition}); }}"
    try:
        page.wait_for_function(
            check, arg={"title": title, **baseline}, timeout=CONTENT_TIMEOUT_MS, polling=500
        )
    except playwright.TimeoutError:
        pytest.fail(
            f"plot {title!r}: `{condition}` did not hold within {CONTENT_TIMEOUT_MS // 1000} s "
            f"(baseline {baseline}); drawn: {plot_state(page, title)}"
        )
    state = plot_state(page, title)
    assert state is not None
    return state


def wait_for_rows(page: Any, selector: str, at_least: int = 1) -> int:
    """Wait until ``selector`` matches ``at_least`` elements; return how many it matches."""
    try:
        page.wait_for_function(
            "([selector, n]) => document.querySelectorAll(selector).length >= n",
            arg=[selector, at_least],
            timeout=CONTENT_TIMEOUT_MS,
            polling=500,
        )
    except playwright.TimeoutError:
        pytest.fail(f"fewer than {at_least} of {selector!r} within {CONTENT_TIMEOUT_MS // 1000} s")
    return int(page.locator(selector).count())


def check_market_monitor(page: Any) -> None:
    """Prices of many tokens, a two-sided book, and a mid line with real points."""
    assert wait_for_rows(page, ".pb-live-table table.pb-prices tbody tr", 2) >= 2
    page.locator(".pb-live-book .pb-book", has_text="mid ").first.wait_for(
        timeout=CONTENT_TIMEOUT_MS
    )
    assert "live" in page.locator(".pb-live-health").inner_text()
    # The FigureWidget's data reached the page and plotly drew it: not just an empty frame.
    chart = wait_for_plot(page, MID_CHART, "s.points >= 2 && s.vertices >= 2")
    assert chart["traces"] >= 1, chart
    assert chart["last"] is not None, chart


def check_portfolio(page: Any) -> None:
    """The test's own fill shows as a position, an exposure bar and a point of equity."""
    assert wait_for_rows(page, ".pb-positions table tbody tr") >= 1
    exposure = wait_for_plot(page, EXPOSURE_CHART, "s.points >= 1 && s.bars >= 1")
    assert exposure["traces"] == 1, exposure
    # strategy_stats has one row per strategy and UTC day: one marker (a line needs two days).
    equity = wait_for_plot(page, EQUITY_CHART, "s.points >= 1 && s.markers >= 1")
    assert equity["traces"] == 1, equity


def check_strategy_performance(page: Any) -> None:
    """The strategy that traded (the notebook's ``manual``) has a PnL row and is selectable."""
    stats = page.locator(".pb-strategy-stats table tbody tr", has_text="manual")
    stats.first.wait_for(timeout=CONTENT_TIMEOUT_MS)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('select option'))"
        ".some((o) => o.textContent.trim() === 'manual')",
        timeout=CONTENT_TIMEOUT_MS,
        polling=500,
    )


def check_arbitrage_scanner(page: Any) -> None:
    """Priced baskets with numeric sums, from a live feed."""
    wait_for_rows(page, ".pb-arbitrage table tbody tr")
    first = page.locator(".pb-arbitrage table tbody tr").first.locator("td").all_inner_texts()
    assert len(first) == 8, first  # kind, basket, legs, priced, sums, edges
    float(first[4].replace(",", ""))  # sum_asks is a number, not blank
    assert "live" in page.locator(".pb-live-health").inner_text()


CONTENT: dict[str, Callable[[Any], None]] = {
    "market_monitor": check_market_monitor,
    "portfolio": check_portfolio,
    "strategy_performance": check_strategy_performance,
    "arbitrage_scanner": check_arbitrage_scanner,
}


@pytest.fixture(scope="module")
def voila(stack: NotebookStack) -> Iterator[str]:
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

    def output() -> str:
        """Return the end of what the server printed (stopping it first: the pipe stays open)."""
        if server.poll() is None:
            server.kill()
            server.wait()
        return server.stdout.read()[-3000:] if server.stdout else ""

    def serving() -> bool:
        assert server.poll() is None, f"voila exited:\n{output()}"
        try:
            with urllib.request.urlopen(f"{base}/voila/render/portfolio.ipynb", timeout=5):
                return True
        except OSError:
            return False

    try:
        wait_until(serving, 120, "voila to serve the dashboards", interval_s=0.25, diagnose=output)
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


@pytest.fixture(scope="module")
def traded(stack: NotebookStack) -> str:
    """Buy a few shares through the executor (as a notebook would) so the portfolio and
    strategy pages have data to show; return the token. The dashboards themselves never trade."""
    from polybot.notebook import connect

    pb = connect()
    feed = pb.watch()
    try:
        market = pb.markets().df.iloc[0]
        token = str(market.yes_token_id)
        assert feed.wait_for(lambda f: bool(f.book(token).asks), timeout=90), "no book to buy from"
        best_ask = feed.book(token).asks[0][0]
        ticket = pb.buy(token, 5, round(min(best_ask + 0.05, 0.99), 2), timeout=60)
        assert ticket.status in ("accepted", "partially_filled", "filled"), ticket
        wait_until(
            lambda: not pb.positions().df.empty, 90, f"a position after {ticket!r}", interval_s=0.5
        )
        return token
    finally:
        feed.close()
        pb.close()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_renders_live_widgets(
    voila: str, browser: object, traded: str, name: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        page.goto(f"{voila}/voila/render/{name}.ipynb", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        for selector in EXPECTED[name]:
            page.wait_for_selector(selector, state="attached", timeout=LOAD_TIMEOUT_MS)
        # Real content, not only the frames: rows, drawn lines, bars and markers.
        CONTENT[name](page)
        # Rendered, not failed: no error panel, no Python traceback in any output.
        assert page.locator(".pb-error").count() == 0, page.locator(".pb-error").all_inner_texts()
        stderr = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, stderr.all_inner_texts()
        assert "Traceback" not in page.inner_text("body")
        assert not console_errors, console_errors
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        # Voila scrolls inside the page, so plots below the fold get shots of their own.
        plots = page.locator(".js-plotly-plot")
        for index in range(plots.count()):
            plots.nth(index).screenshot(path=str(ARTIFACTS / f"{name}-plot{index + 1}.png"))
    finally:
        page.close()


def test_market_monitor_keeps_updating(voila: str, browser: object) -> None:
    """The price table and the mid chart are redrawn in place from the live feed."""
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(
            f"{voila}/voila/render/market_monitor.ipynb", wait_until="load", timeout=LOAD_TIMEOUT_MS
        )
        health = page.locator(".pb-live-health .pb-health")
        health.wait_for(timeout=LOAD_TIMEOUT_MS)
        first = health.inner_text()
        chart = wait_for_plot(page, MID_CHART, "s.points >= 2 && s.vertices >= 2")
        page.wait_for_function(
            "(first) => document.querySelector('.pb-live-health .pb-health').innerText !== first",
            arg=first,
            timeout=LOAD_TIMEOUT_MS,
        )
        # New mids reach the drawn line: more points, or (once the kept history is full) a
        # newer last point.
        later = wait_for_plot(
            page,
            MID_CHART,
            "s.vertices >= 2 && (s.points > a.points || s.last > a.last)",
            points=chart["points"],
            last=chart["last"],
        )
        assert later["points"] > chart["points"] or later["last"] > chart["last"], (chart, later)
    finally:
        page.close()
