"""Rich HTML displays for the notebook: tables, order-book ladders, status badges.

Everything here is pure string building (no widgets, no I/O) so the same HTML serves a notebook
cell's ``_repr_html_``, an ``ipywidgets.HTML`` that a live view rewrites in place, and a Voila
dashboard. Text from the outside world (market questions, reasons) is always escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pandas as pd

GREEN = "#1a7f37"
RED = "#cf222e"
AMBER = "#9a6700"
GREY = "#57606a"
_TABLE_STYLE = "border-collapse:collapse;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;"
_CELL = "padding:2px 8px;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap"
_HEAD = _CELL + ";font-weight:600;background:#f6f8fa"


def escape(value: object) -> str:
    """Return ``value`` as HTML-safe text."""
    return html.escape(str(value), quote=True)


def badge(text: str, color: str = GREY) -> str:
    """Return a small coloured pill (status indicators)."""
    return (
        f'<span class="pb-badge" style="display:inline-block;padding:0 6px;border-radius:8px;'
        f'color:#fff;background:{color};font:11px/1.6 sans-serif">{escape(text)}</span>'
    )


def format_number(value: object, digits: int = 4) -> str:
    """Return a compact rendering of a number (strings and None pass through)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def signed_color(value: object) -> str:
    """Return green for positive, red for negative numbers (also numeric strings), else ''."""
    try:
        number = float(str(value))
    except ValueError:
        return ""
    if number > 0:
        return GREEN
    if number < 0:
        return RED
    return ""


CellStyle = Callable[[str, object], str]


def html_table(
    frame: pd.DataFrame,
    *,
    max_rows: int = 50,
    cell_style: CellStyle | None = None,
    css_class: str = "pb-table",
) -> str:
    """Return ``frame`` as a compact HTML table (first ``max_rows`` rows, a note for the rest).

    ``cell_style(column, value)`` may return extra CSS for a cell (e.g. red for a loss).
    """
    columns = [str(c) for c in frame.columns]
    head = "".join(f'<th style="{_HEAD}">{escape(c)}</th>' for c in columns)
    body: list[str] = []
    for row in frame.head(max_rows).itertuples(index=False, name=None):
        cells = []
        for column, value in zip(columns, row, strict=True):
            extra = cell_style(column, value) if cell_style else ""
            cells.append(f'<td style="{_CELL};{extra}">{escape(format_number(value))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = len(frame) - max_rows
    note = (
        f'<div style="color:{GREY};font-size:11px">… {more:,} more rows</div>' if more > 0 else ""
    )
    return (
        f'<table class="{css_class}" style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


def pnl_style(column: str, value: object) -> str:
    """Colour PnL-like columns by sign and BUY/SELL sides (a ``CellStyle``)."""
    if value == "BUY":
        return f"color:{GREEN}"
    if value == "SELL":
        return f"color:{RED}"
    if any(word in column for word in ("pnl", "realized", "return", "equity_change")):
        color = signed_color(value)
        return f"color:{color}" if color else ""
    return ""


class Frame:
    """A DataFrame that displays itself with a title and PolyBot's styling.

    Everything a DataFrame offers works through attribute access (``frame.groupby(...)``,
    ``frame["size"]``); ``frame.df`` is the plain DataFrame.
    """

    def __init__(self, df: pd.DataFrame, title: str, *, empty_hint: str = "") -> None:
        self.df = df
        self.title = title
        self.empty_hint = empty_hint

    def __len__(self) -> int:
        return len(self.df)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.df.to_dict("records"))

    def __getitem__(self, key: Any) -> Any:
        return self.df[key]

    def __getattr__(self, name: str) -> Any:
        # Only called for names Frame itself lacks: delegate to the DataFrame.
        if name.startswith("__") or name in ("df", "title", "empty_hint"):
            raise AttributeError(name)
        return getattr(self.df, name)

    def __repr__(self) -> str:
        return f"{self.title} ({len(self.df)} rows)\n{self.df!r}"

    def _repr_html_(self) -> str:
        header = (
            f'<div class="pb-frame"><b>{escape(self.title)}</b> '
            f'<span style="color:{GREY}">{len(self.df):,} rows</span>'
        )
        if self.df.empty:
            hint = f" — {escape(self.empty_hint)}" if self.empty_hint else ""
            return f'{header}<div style="color:{GREY}">nothing yet{hint}</div></div>'
        return header + html_table(self.df, cell_style=pnl_style) + "</div>"


def book_html(
    title: str,
    bids: Sequence[tuple[float, float]],
    asks: Sequence[tuple[float, float]],
    *,
    depth: int = 10,
    status: str = "",
) -> str:
    """Return a depth ladder: asks (worst at the top) over bids, with size bars."""
    shown_asks = list(asks[:depth])[::-1]
    shown_bids = list(bids[:depth])
    largest = max((size for _, size in [*shown_asks, *shown_bids]), default=0.0) or 1.0
    rows: list[str] = []

    def row(price: float, size: float, color: str) -> str:
        width = max(int(120 * size / largest), 1)
        bar = f'<div style="height:10px;width:{width}px;background:{color};opacity:.35"></div>'
        return (
            f'<tr><td style="{_CELL};color:{color}">{price:.3f}</td>'
            f'<td style="{_CELL}">{format_number(size, 2)}</td>'
            f'<td style="{_CELL};text-align:left">{bar}</td></tr>'
        )

    rows.extend(row(price, size, RED) for price, size in shown_asks)
    spread = ""
    if shown_bids and asks:
        gap = asks[0][0] - shown_bids[0][0]
        mid = (asks[0][0] + shown_bids[0][0]) / 2
        spread = f"mid {mid:.4f} · spread {gap:.4f}"
    rows.append(
        f'<tr><td colspan="3" style="{_CELL};text-align:center;color:{GREY}">'
        f"{escape(spread or 'no two-sided book')}</td></tr>"
    )
    rows.extend(row(price, size, GREEN) for price, size in shown_bids)
    return (
        f'<div class="pb-book"><b>{escape(title)}</b> {status}'
        f'<table style="{_TABLE_STYLE}"><thead><tr><th style="{_HEAD}">price</th>'
        f'<th style="{_HEAD}">size</th><th style="{_HEAD}"></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def key_values(title: str, items: Iterable[tuple[str, object]]) -> str:
    """Return a two-column "name: value" block (stats, tickets, health)."""
    rows = "".join(
        f'<tr><td style="{_CELL};text-align:left;color:{GREY}">{escape(k)}</td>'
        f'<td style="{_CELL};text-align:left">{v if isinstance(v, Markup) else escape(format_number(v))}'
        "</td></tr>"
        for k, v in items
    )
    return f'<div class="pb-kv"><b>{escape(title)}</b><table style="{_TABLE_STYLE}">{rows}</table></div>'


class Markup(str):
    """A string that is already HTML (``key_values`` inserts it unescaped)."""

    __slots__ = ()


def sparkline(values: Sequence[float], *, width: int = 120, height: int = 24) -> str:
    """Return an inline SVG line of ``values`` (empty string for fewer than two points)."""
    points = [v for v in values if not math.isnan(v)]
    if len(points) < 2:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    step = width / (len(points) - 1)
    path = " ".join(
        f"{i * step:.1f},{height - (v - low) / span * (height - 2) - 1:.1f}"
        for i, v in enumerate(points)
    )
    color = GREEN if points[-1] >= points[0] else RED
    return (
        f'<svg width="{width}" height="{height}" style="vertical-align:middle">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/></svg>'
    )
