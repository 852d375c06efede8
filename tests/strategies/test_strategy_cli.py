"""``polybot strategy list`` and ``polybot strategy backtest`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from polybot.cli.main import app
from polybot.core.clock import ManualClock
from polybot.recording import Recorder, RecordStore
from polybot.testing import make_book, make_market


def test_list_shows_every_strategy_with_defaults() -> None:
    result = CliRunner().invoke(app, ["strategy", "list"])
    assert result.exit_code == 0
    for name in ("arbitrage", "stat_arb", "ai_model", "spread_farm", "copy_trade"):
        assert f"\n{name}  (" in "\n" + result.output
    assert "    min_edge = 0.005" in result.output


def test_backtest_runs_with_params_and_reports_typos(tmp_path: Path) -> None:
    recorder = Recorder(RecordStore(tmp_path), ManualClock())
    recorder.add_markets([make_market(n, neg_risk=True, event_id="ev") for n in ("a", "b")])
    ms = 1_794_000_000_000
    recorder.record(make_book("a-yes", [(0.40, 100)], [(0.45, 100)], ts_ms=ms), ms * 10**6)
    recorder.record(
        make_book("b-yes", [(0.45, 100)], [(0.50, 100)], ts_ms=ms + 1), (ms + 1) * 10**6
    )
    recorder.close()
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "strategy",
            "backtest",
            "arbitrage",
            "--data",
            str(tmp_path),
            "--param",
            "binary=false",
            "--param",
            "max_size=50",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    stats = json.loads(ok.output.strip().splitlines()[-1])
    assert stats["strategy"] == "arbitrage"
    assert stats["fills"] == 2  # YES asks .45 + .50 < 1 in a neg-risk event: both legs
    bad = runner.invoke(
        app, ["strategy", "backtest", "arbitrage", "--data", str(tmp_path), "-p", "max_sise=1"]
    )
    assert bad.exit_code != 0
    assert "did you mean 'max_size'" in str(bad.exception) + bad.output
