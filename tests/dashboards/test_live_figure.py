"""Live plotly figures keep their stored widget state equal to what they show.

A ``FigureWidget`` sends edits to the browser as one-shot deltas; a page that attaches later (a
Voila page opening on a pre-heated kernel, a reloaded notebook) loads the stored state instead.
These checks run without a kernel or a browser: the browser side is covered by test_render.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from polybot.notebook.views import ChartView, live_figure, plot_times


def names(figure: Any) -> list[str]:
    return [trace["name"] for trace in figure._widget_data]


def test_every_kind_of_edit_reaches_the_stored_state_without_a_loop() -> None:
    figure = live_figure({"title": {"text": "before"}})
    assert figure._widget_data == []
    figure.add_scatter(x=["2026-01-01", "2026-01-02"], y=[0.1, 0.2], name="a")
    figure.add_bar(x=["m"], y=[3.0], name="b")
    assert names(figure) == ["a", "b"]
    with figure.batch_update():
        figure.data[0].y = [0.3, 0.4]
    assert list(figure._widget_data[0]["y"]) == [0.3, 0.4]
    figure.update_layout(title_text="after")
    assert figure._widget_layout["title"]["text"] == "after"
    figure.data = (figure.data[1],)
    assert names(figure) == ["b"]


def test_in_a_loop_the_state_follows_the_deltas_once_per_turn() -> None:
    async def edit() -> tuple[list[str], list[str]]:
        figure = live_figure()
        sent: list[str] = []
        figure.observe(
            lambda change: sent.append(change["name"]) if change["new"] is not None else None,
            names=["_py2js_addTraces", "_py2js_restyle", "_widget_data"],
        )
        figure.add_scatter(x=[1, 2], y=[0.5, 0.6], name="a")
        figure.add_scatter(x=[1, 2], y=[0.5, 0.6], name="b")
        figure.data[0].y = [0.7, 0.8]
        assert figure._widget_data == []  # not yet: the state goes after the deltas
        await asyncio.sleep(0)
        assert list(figure._widget_data[0]["y"]) == [0.7, 0.8]
        return sent, names(figure)

    sent, traces = asyncio.run(edit())
    # A page applies each delta, then receives the state once (never a delta it already has).
    assert sent == ["_py2js_addTraces", "_py2js_addTraces", "_py2js_restyle", "_widget_data"]
    assert traces == ["a", "b"]


class FakeFeed:
    """What ``ChartView`` reads from a ``LiveFeed``."""

    def __init__(self) -> None:
        self.labels = {"tok": "Will it? · Yes"}
        self.points: list[tuple[int, float]] = [(1_700_000_000_000, 0.5)]
        self.prices = {"tok": None}

    def series_points(self, token_id: str) -> list[tuple[int, float]]:
        return list(self.points) if token_id == "tok" else []


def test_the_mid_chart_stores_its_points_for_late_pages() -> None:
    feed = FakeFeed()
    chart = ChartView(feed, ["tok"], 4)  # type: ignore[arg-type]
    chart.refresh()
    feed.points.append((1_700_000_001_500, 0.55))
    chart.refresh()
    (trace,) = chart.widget._widget_data
    assert trace["name"] == "Will it? · Yes"
    assert list(trace["x"]) == ["2023-11-14T22:13:20.000", "2023-11-14T22:13:21.500"]
    assert list(trace["y"]) == [0.5, 0.55]
    chart.show([])
    assert chart.widget._widget_data == []


def test_plot_times_are_utc_wall_time_strings() -> None:
    assert list(plot_times([0, 1_500], unit="ms")) == [
        "1970-01-01T00:00:00.000",
        "1970-01-01T00:00:01.500",
    ]
    assert list(plot_times(["2026-11-24 01:00:00+01:00"])) == ["2026-11-24T00:00:00.000"]
