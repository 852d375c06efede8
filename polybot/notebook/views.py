"""Widgets bound to a ``LiveFeed``: price table, mid chart, order-book ladder, feed health.

Each view is redrawn by the feed's timer (every ``refresh_s``), never per message, and skips the
redraw when nothing it shows changed — a widget update is a comm message to the browser, far
more expensive than receiving a bus frame. Imported lazily: plotly and ipywidgets load only when a
view is asked for.

Live plotly figures come from ``live_figure``. A plain ``FigureWidget`` sends each edit
(``add_scatter``, ``trace.x = …``) to the browser as a one-shot delta message and only refreshes
its *stored* state when the figure itself is displayed as a cell's output. A figure nested in a
box, or edited before any browser is attached — always the case in Voila, whose pre-heated kernel
runs the dashboard before the page connects — would show the state it had when it was created
(no traces) and ignore every later delta aimed at traces the page never received. ``live_figure``
keeps the stored state equal to the figure after every edit, so a page that attaches at any time
draws what the figure holds, then follows the deltas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from copy import deepcopy
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from polybot.notebook.display import AMBER, book_html, html_table
from polybot.notebook.live import LiveFeed, _View

# The FigureWidget traits that carry one-shot edit messages to the browser (plotly/basewidget.py).
_EDIT_MESSAGES = (
    "_py2js_addTraces",
    "_py2js_deleteTraces",
    "_py2js_moveTraces",
    "_py2js_restyle",
    "_py2js_relayout",
    "_py2js_update",
    "_py2js_animate",
    "_py2js_removeLayoutProps",
    "_py2js_removeTraceProps",
)


def live_figure(layout: dict[str, Any] | None = None) -> Any:
    """Return a plotly ``FigureWidget`` that draws its current content in any page, at any time.

    Use it for every figure that is edited after creation (live charts, dashboard panels): see
    the module docstring and ``keep_widget_state``.
    """
    import plotly.graph_objects as go

    figure = go.FigureWidget(layout=layout)
    keep_widget_state(figure)
    return figure


def keep_widget_state(figure: Any) -> None:
    """Keep ``figure``'s synced widget state (``_widget_data``/``_widget_layout``) up to date.

    After every edit message the figure sends, its full data and layout are copied into the
    widget state — the state a browser loads when it attaches (a Voila page opening on a
    pre-heated kernel, a reloaded notebook, a second view). Pages already attached apply the
    delta and then receive the same state, which their plotly model keeps without redrawing.
    The copy runs once per loop turn however many edits it follows (at once without a running
    loop), always after the deltas it covers, so a page never applies an edit twice.
    """
    pending = False

    def store() -> None:
        nonlocal pending
        pending = False
        # What plotly's own _repr_mimebundle_ does when a figure is displayed as an output.
        figure._widget_layout = deepcopy(figure._layout_obj._props)
        figure._widget_data = deepcopy(figure._data)

    def edited(change: dict[str, Any]) -> None:
        nonlocal pending
        if change["new"] is not None or pending:
            return  # act on the reset that follows each sent message, once per loop turn
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            store()
            return
        pending = True
        loop.call_soon(store)

    figure.observe(edited, names=list(_EDIT_MESSAGES))


def plot_times(stamps: Any, *, unit: str | None = None) -> Any:
    """Return timestamps as ISO-8601 strings (UTC wall time, ms) for a plotly date axis.

    ``stamps`` are epoch numbers in ``unit`` ("ms"), or datetime-likes (naive ones are UTC).
    Strings are cheap to send — ``datetime`` objects are serialised one by one by the kernel, ten
    times slower — and plotly shows them as written, whatever the browser's time zone.
    """
    index = pd.DatetimeIndex(pd.to_datetime(stamps, unit=unit, utc=True)).tz_localize(None)
    return np.datetime_as_string(index.values.astype("datetime64[ms]"), unit="ms")


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
        self.feed = feed
        self.fixed = list(token_ids) if token_ids is not None else None
        self.max_traces = max_traces
        self.widget = live_figure(
            layout={
                "height": 320,
                "margin": {"l": 40, "r": 10, "t": 30, "b": 30},
                "title": {"text": "mid"},
                "yaxis": {"range": [0, 1]},
                "legend": {"font": {"size": 10}},
            },
        )
        self._lengths: dict[str, tuple[int, int]] = {}

    def show(self, token_ids: Iterable[str] | None) -> None:
        """Chart other tokens (None: the first ones to have prices); redraws at once."""
        self.fixed = list(token_ids) if token_ids is not None else None
        self.widget.data = ()
        self._lengths.clear()
        self.refresh()

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
                times = plot_times([p[0] for p in points], unit="ms")
                mids = np.fromiter((p[1] for p in points), dtype="float64", count=len(points))
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
