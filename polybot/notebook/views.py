"""Widgets bound to a ``LiveFeed``: price table, mid chart, order-book ladder, feed health.

Each view is redrawn by the feed's timer (every ``refresh_s``), never per message, and skips the
redraw when nothing it shows changed — a widget update is a comm message to the browser, far
more expensive than receiving a bus frame. Imported lazily: plotly and ipywidgets load only when a
view is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets
import pandas as pd

from polybot.notebook.display import AMBER, book_html, html_table
from polybot.notebook.live import LiveFeed, _View


class PriceTableView(_View):
    """A text filter above a table of the latest prices."""

    def __init__(self, feed: LiveFeed, contains: str, max_rows: int) -> None:
        self.feed = feed
        self.max_rows = max_rows
        self.filter = widgets.Text(
            value=contains,
            placeholder="filter markets…",
            description="filter",
            layout=widgets.Layout(width="320px"),
        )
        self.html = widgets.HTML()
        self.html.add_class("pb-live-table")
        self.widget = widgets.VBox([self.filter, self.html])
        self._last = ""
        # A new filter redraws at once instead of waiting for the next tick.
        self.filter.observe(lambda change: self.refresh(), names="value")

    def refresh(self) -> None:
        """Redraw the table (only when its HTML changed)."""
        frame = self.feed.price_frame(self.filter.value).drop(columns=["market_id", "token_id"])
        if frame.empty:
            text = "<div class='pb-empty'>no prices yet — waiting for the scanner</div>"
        else:
            text = html_table(frame, max_rows=self.max_rows, css_class="pb-table pb-prices")
        if text != self._last:
            self.html.value = self._last = text


class ChartView(_View):
    """A plotly ``FigureWidget`` with one mid line per token, updated in place."""

    def __init__(self, feed: LiveFeed, token_ids: Iterable[str] | None, max_traces: int) -> None:
        import plotly.graph_objects as go

        self.feed = feed
        self.fixed = list(token_ids) if token_ids is not None else None
        self.max_traces = max_traces
        self.widget = go.FigureWidget(
            layout={
                "height": 320,
                "margin": {"l": 40, "r": 10, "t": 30, "b": 30},
                "title": {"text": "mid"},
                "yaxis": {"range": [0, 1]},
                "legend": {"font": {"size": 10}},
            },
        )
        self._lengths: dict[str, tuple[int, int]] = {}

    def _tokens(self) -> list[str]:
        if self.fixed is not None:
            return self.fixed[: self.max_traces]
        # Without a choice: the first tokens to have prices, in a stable order.
        return sorted(self.feed.prices)[: self.max_traces]

    def refresh(self) -> None:
        """Append new points to each trace (adding traces for new tokens)."""
        tokens = self._tokens()
        names = {trace.meta: index for index, trace in enumerate(self.widget.data)}
        with self.widget.batch_update():
            for token in tokens:
                points = self.feed.series_points(token)
                if not points:
                    continue
                mark = (len(points), points[-1][0])
                if self._lengths.get(token) == mark:
                    continue  # nothing new for this token since the last redraw
                self._lengths[token] = mark
                times = pd.to_datetime([p[0] for p in points], unit="ms")
                mids = [p[1] for p in points]
                if token in names:
                    trace = self.widget.data[names[token]]
                    trace.x, trace.y = times, mids
                else:
                    self.widget.add_scatter(
                        x=times,
                        y=mids,
                        mode="lines",
                        meta=token,
                        name=self.feed.labels.get(token, token[:12])[:40],
                    )


class BookView(_View):
    """An order-book ladder (HTML widget) for one token."""

    def __init__(self, feed: LiveFeed, token_id: str, depth: int) -> None:
        self.feed = feed
        self.token_id = token_id
        self.depth = depth
        self.widget = widgets.HTML()
        self.widget.add_class("pb-live-book")
        self._last = ""

    def refresh(self) -> None:
        """Redraw the ladder when the book changed."""
        state = self.feed.book(self.token_id)
        from polybot.notebook.display import badge

        status = badge("resyncing", AMBER) if state.suspect else ""
        if not state.bids and not state.asks:
            status += " <span class='pb-empty'>waiting for a snapshot…</span>"
        text = book_html(state.label, state.bids, state.asks, depth=self.depth, status=status)
        if text != self._last:
            self.widget.value = self._last = text


class HealthView(_View):
    """The feed's state, rate, gaps and last-message age."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self.widget = widgets.HTML()
        self.widget.add_class("pb-live-health")

    def refresh(self) -> None:
        """Redraw (ages change every tick, so always)."""
        self.widget.value = self.feed.status._repr_html_()


def display_all(*items: Any) -> Any:
    """Return a vertical box of widgets (dashboards lay views out with it)."""
    return widgets.VBox(list(items))
