"""Every tutorial and dashboard executes without error in a real kernel against a real stack."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from stack_helpers import REPO_ROOT, NotebookStack

# Generous per-test limits: the first test also pays for starting the stack (and Voila).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
DASHBOARDS = sorted((REPO_ROOT / "dashboards").glob("*.ipynb"))


def execute(path: Path) -> nbformat.NotebookNode:
    """Run every cell of ``path`` in a fresh python3 kernel (cwd: the notebook's folder)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def text_of(cell: nbformat.NotebookNode) -> str:
    """Return every text and HTML output of a cell, joined."""
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"])
        data = output.get("data", {})
        parts.extend(str(data[k]) for k in ("text/plain", "text/html") if k in data)
    return "\n".join(parts)


def cell_with(notebook: nbformat.NotebookNode, source_start: str) -> nbformat.NotebookNode:
    """Return the code cell whose source starts with ``source_start``."""
    return next(
        c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(source_start)
    )


def test_the_notebooks_and_dashboards_are_all_covered() -> None:
    names = {p.stem for p in [*NOTEBOOKS, *DASHBOARDS]}
    assert {"01_quickstart", "02_research", "03_idea_to_production"} <= names
    assert {"market_monitor", "portfolio", "strategy_performance", "arbitrage_scanner"} <= names
    for path in [*NOTEBOOKS, *DASHBOARDS]:
        # Committed notebooks carry no outputs; the jupytext .py twin is the reviewed source.
        notebook = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), path
        assert path.with_suffix(".py").exists(), path


def test_quickstart_watches_queries_and_gets_each_trade_s_fate(stack: NotebookStack) -> None:
    notebook = execute(REPO_ROOT / "notebooks" / "01_quickstart.ipynb")
    assert "price_history" in text_of(cell_with(notebook, "pb.history.tables()"))
    assert "accepted" in text_of(cell_with(notebook, "book = feed.book("))
    rejected = text_of(cell_with(notebook, "too_big = "))
    assert "rejected" in rejected
    assert "max_order_notional" in rejected  # the risk rule that said no


def test_research_notebook_runs(stack: NotebookStack) -> None:
    notebook = execute(REPO_ROOT / "notebooks" / "02_research.ipynb")
    assert "edge_buy" in text_of(cell_with(notebook, "feed = pb.watch()"))


def test_idea_to_production_backtests_searches_and_deploys(stack: NotebookStack) -> None:
    notebook = execute(REPO_ROOT / "notebooks" / "03_idea_to_production.ipynb")
    assert "grid search" in text_of(cell_with(notebook, "search = pb.optimize("))
    deployed = text_of(cell_with(notebook, "best = lab.MeanRevert("))
    assert "mean_revert_nb" in deployed
    assert "RUNNING" in deployed  # the production runner imported and started the class


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_executes(stack: NotebookStack, path: Path) -> None:
    notebook = execute(path)
    last = notebook.cells[-1]
    # The layout call returns a widget tree: the output is a widget view, not an error.
    assert any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in last.outputs
    ), last.outputs
