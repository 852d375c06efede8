"""``polybot sim`` (run the local Polymarket) and ``polybot sim-admin …`` (poke a running one).

Defaults come from the settings (``venue.local_host``, ``local_port``, ``local_seed``,
``local_markets``, ``local_fund_usdc``, ``data_dir``); options override them. ``sim-admin`` talks
to the admin API of a running venue (``/_polybot/admin``), loopback only.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

sim_admin = typer.Typer(
    help="Control a running local venue: fund wallets, move time, resolve markets, faults.",
    no_args_is_help=True,
)


def _parse_fund(items: list[str]) -> dict[str, Decimal]:
    funds: dict[str, Decimal] = {}
    for item in items:
        address, sep, amount = item.partition("=")
        if not sep or not address.startswith("0x") or len(address) != 42:
            raise typer.BadParameter(f"{item!r}: expected 0xADDRESS=AMOUNT")
        try:
            funds[address] = Decimal(amount)
        except InvalidOperation:
            raise typer.BadParameter(f"{item!r}: {amount!r} is not a number") from None
    return funds


def sim(
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port (0 = any free one).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Interface (loopback by default).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="World seed.")] = None,
    markets: Annotated[int | None, typer.Option("--markets", "-n", help="About how many markets.")] = None,
    fund: Annotated[list[str] | None, typer.Option(
        "--fund", help="Fund an address at start: 0xADDRESS=AMOUNT (pUSD). Repeatable.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Time acceleration (venue s per real s).")] = 1.0,
    wallet_fund: Annotated[str | None, typer.Option(
        "--wallet-fund", help="pUSD for the local wallet (default: venue.local_fund_usdc).")] = None,
    flow_rate: Annotated[float, typer.Option(
        "--flow-rate", help="Background actions per venue second (0 = no flow).")] = 5.0,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the wallet lives.")] = None,
    admin_token: Annotated[str | None, typer.Option(
        "--admin-token", envvar="POLYBOT_SIM_ADMIN_TOKEN",
        help="Require this token on the admin API (needed when not on loopback).")] = None,
) -> None:
    """Run the local, protocol-faithful Polymarket (CLOB, Gamma, Data API, WebSockets)."""
    from polybot.config import load_settings
    from polybot.localvenue.server.app import AppOptions
    from polybot.localvenue.server.run import VenueConfig, serve

    settings = load_settings()
    local = settings.venue
    chosen_host = host or local.local_host
    if admin_token is None and chosen_host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("note: the admin API answers loopback clients only; pass --admin-token to "
                   "use it from elsewhere", err=True)
    config = VenueConfig(
        host=chosen_host,
        port=local.local_port if port is None else port,
        seed=local.local_seed if seed is None else seed,
        markets=local.local_markets if markets is None else markets,
        speed=speed,
        data_dir=data_dir or settings.data_dir,
        wallet_fund=Decimal(wallet_fund) if wallet_fund is not None else local.local_fund_usdc,
        fund=_parse_fund(fund or []),
        flow=flow_rate > 0,
        flow_actions_per_s=flow_rate if flow_rate > 0 else 1.0,
        app=AppOptions(chain_id=local.chain_id, admin_token=admin_token),
    )
    serve(config, echo=typer.echo)


# ---------------------------------------------------------------------------------------------
# sim-admin


def _admin_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    from polybot.config import load_settings

    venue = load_settings().venue
    return f"http://{venue.local_host}:{venue.local_port}"


def _call(url: str | None, method: str, path: str, body: dict[str, Any] | None = None,
          token: str | None = None) -> None:
    import httpx

    headers = {"X-Polybot-Admin-Token": token} if token else {}
    try:
        response = httpx.request(method, f"{_admin_url(url)}/_polybot/admin/{path}", json=body,
                                 headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach the local venue: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(response.json(), indent=2))
    if response.status_code >= 400:
        raise typer.Exit(1)


UrlOption = Annotated[str | None, typer.Option("--url", help="Venue base URL (default: settings).")]
TokenOption = Annotated[str | None, typer.Option("--admin-token", envvar="POLYBOT_SIM_ADMIN_TOKEN")]


@sim_admin.command("state")
def admin_state(url: UrlOption = None, token: TokenOption = None) -> None:
    """Show clock, markets, trading mode, fault knobs and WS stats."""
    _call(url, "GET", "state", token=token)


@sim_admin.command("fund")
def admin_fund(
    address: Annotated[str, typer.Argument(help="0x address to credit.")],
    amount: Annotated[str, typer.Argument(help="pUSD amount, e.g. 1000.")],
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Mint pUSD to an address."""
    _call(url, "POST", "fund", {"address": address, "amount": amount}, token)


@sim_admin.command("advance")
def admin_advance(
    seconds: Annotated[float, typer.Argument(help="Venue seconds to jump forward.")],
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Move venue time forward (expiries, trade lifecycle, heartbeats fire)."""
    _call(url, "POST", "advance", {"seconds": seconds}, token)


@sim_admin.command("speed")
def admin_speed(
    speed: Annotated[float, typer.Argument(help="Venue seconds per real second.")],
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Accelerate (or slow) venue time."""
    _call(url, "POST", "speed", {"speed": speed}, token)


@sim_admin.command("resolve")
def admin_resolve(
    condition_id: Annotated[str, typer.Argument(help="Market condition id (0x…).")],
    outcome: Annotated[str, typer.Argument(help="Winning outcome: 0, 1 or its name.")] = "0",
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Resolve a market."""
    _call(url, "POST", "resolve", {"condition_id": condition_id, "outcome": outcome}, token)


@sim_admin.command("faults")
def admin_faults(
    knobs: Annotated[list[str] | None, typer.Argument(
        help="name=value pairs, e.g. error_5xx_rate=0.1 feed=silent trading_mode=cancel-only "
             "latency_ms=200 drop_ws=true reset=true")] = None,
    url: UrlOption = None, token: TokenOption = None,
) -> None:
    """Show (no arguments) or change fault knobs and the trading mode."""
    if not knobs:
        _call(url, "GET", "faults", token=token)
        return
    body: dict[str, Any] = {}
    for knob in knobs:
        name, sep, raw = knob.partition("=")
        if not sep:
            raise typer.BadParameter(f"{knob!r}: expected name=value")
        try:
            body[name] = json.loads(raw)
        except json.JSONDecodeError:
            body[name] = raw   # plain words such as feed=silent
    _call(url, "POST", "faults", body, token)


def register(app: typer.Typer) -> None:
    """Add ``sim`` and ``sim-admin`` to the ``polybot`` command."""
    app.command("sim")(sim)
    app.add_typer(sim_admin, name="sim-admin")
