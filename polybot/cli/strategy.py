"""``polybot strategy``: list strategies with their parameters, backtest one on recorded data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from polybot.core.errors import ConfigError


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param expects key=value, got {pair!r}")
        try:
            # JSON first so lists/numbers/booleans work ("wallets=[\"0xabc\"]", "binary=false").
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def _show(value: Any) -> str:
    if value is ...:
        return "(required)"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value) if isinstance(value, list | bool) else str(value)


def register(app: typer.Typer) -> None:
    """Add the ``strategy`` command group to the main CLI."""
    group = typer.Typer(
        help="Strategies: list them, backtest them on recorded data.", no_args_is_help=True
    )
    app.add_typer(group, name="strategy")

    @group.command("list")
    def list_strategies() -> None:
        """List every registered strategy with its parameters and defaults."""
        from polybot.strategies.base import parameters
        from polybot.strategies.registry import STRATEGIES

        for name, cls in sorted(STRATEGIES.items()):
            summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            typer.echo(f"{name}  ({cls.__module__}:{cls.__name__})  {summary}")
            for param, default in parameters(cls).items():
                typer.echo(f"    {param} = {_show(default)}")

    @group.command("backtest")
    def backtest_cmd(
        name: Annotated[str, typer.Argument(help="registry name or module:Class")],
        data: Annotated[
            Path | None,
            typer.Option(
                "--data", help="recording directory (default: a generated local-venue sample)"
            ),
        ] = None,
        start: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD")] = None,
        end: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD")] = None,
        param: Annotated[
            list[str] | None,
            typer.Option("--param", "-p", help="parameter as key=value (repeatable)"),
        ] = None,
        latency_ms: Annotated[int, typer.Option(help="order latency in simulated ms")] = 0,
        seed: Annotated[int, typer.Option(help="seed for latency jitter")] = 0,
        cash: Annotated[float, typer.Option(help="starting pUSD")] = 1000.0,
        as_json: Annotated[
            bool, typer.Option("--json", help="print stats as one JSON object")
        ] = False,
    ) -> None:
        """Backtest a strategy on recorded data and print its stats."""
        from polybot.backtest.run import backtest
        from polybot.strategies.registry import get

        strategy = get(name)(**_parse_params(param or []))
        if data is None:
            from polybot.testing.sample import sample_store

            typer.echo("no --data: generating a 30-minute local-venue sample recording …", err=True)
            source: Any = sample_store()
        else:
            if not data.exists():
                raise ConfigError(f"--data {data} does not exist")
            source = data
        result = backtest(
            strategy,
            source,
            start=start,
            end=end,
            latency_ms=latency_ms,
            seed=seed,
            starting_cash=cash,
        )
        stats = {
            k: (None if isinstance(v, float) and v != v else v) for k, v in result.stats.items()
        }
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "strategy": result.strategy,
                        "config_hash": result.config_hash,
                        "digest": result.digest,
                        **stats,
                    },
                    default=str,
                )
            )
            return
        typer.echo(f"{result.strategy} {result.config_hash}  {strategy!r}")
        for key, value in stats.items():
            typer.echo(
                f"  {key:>16}: {value:,.4f}"
                if isinstance(value, float)
                else f"  {key:>16}: {value}"
            )
