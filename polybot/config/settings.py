"""PolyBot settings: environment variables (``POLYBOT_…``, nested with ``__``) over an optional TOML
file (``POLYBOT_CONFIG`` or ``./polybot.toml``) over defaults.

Secrets are ``SecretStr``: they print as ``**********`` and only ``.get_secret_value()`` reveals them.
``load_settings`` turns every validation problem into one ``ConfigError`` that says what to fix.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from polybot.core.errors import ConfigError
from polybot.risk.limits import RiskLimits
from polybot.venues.polymarket import contracts

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_BUS_URL = re.compile(r"^(ipc|tcp|inproc|ws)://.+")
DEFAULT_CONFIG_FILE = "polybot.toml"


VenueService = Literal["gamma", "clob", "data", "ws_market", "ws_user"]


class _Section(BaseModel):
    """A settings section: unknown keys are typos and fail loudly."""

    model_config = ConfigDict(extra="forbid")


class BusSettings(_Section):
    """NNG addresses. ``ipc://`` by default; any ``tcp://host:port`` works the same (multi-host)."""

    ipc_dir: Path = Path("/tmp/polybot")
    prices_pub: str = "ipc:///tmp/polybot/prices.pub"
    events_pub: str = "ipc:///tmp/polybot/events.pub"
    api_pub: str = "ipc:///tmp/polybot/api.pub"
    state_req: str = "ipc:///tmp/polybot/state.req"
    signals_push: str = "ipc:///tmp/polybot/signals.push"
    analytics_req: str = "ipc:///tmp/polybot/analytics.req"
    strategy_logs_req: str = "ipc:///tmp/polybot/strategy_logs.req"
    runner_pub: str = "ipc:///tmp/polybot/runner.pub"  # strategy runner's events (faults, runs)
    snapshots_req: str = "ipc:///tmp/polybot/snapshots.req"  # scanner: book snapshots after a gap
    buffer_size: int = Field(8192, ge=128, le=8192)  # pynng drops at its defaults (16/128)
    send_timeout_ms: int = Field(1000, gt=0)
    recv_timeout_ms: int = Field(2000, gt=0)

    @field_validator(
        "prices_pub",
        "events_pub",
        "api_pub",
        "state_req",
        "signals_push",
        "analytics_req",
        "strategy_logs_req",
        "runner_pub",
        "snapshots_req",
    )
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not _BUS_URL.match(value):
            raise ValueError(
                f"{value!r} is not an NNG address (ipc://, tcp://, inproc:// or ws://)"
            )
        return value


class PolymarketCredentials(_Section):
    """Wallet and API credentials. Empty by default: the local venue creates its own wallet."""

    private_key: SecretStr | None = None
    funder_address: str | None = None  # the proxy/Safe that holds funds; EOA if unset
    signature_type: int = Field(0, ge=0, le=3)
    api_key: str | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None

    @field_validator("private_key")
    @classmethod
    def _check_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _PRIVATE_KEY.match(value.get_secret_value()):
            raise ValueError(
                "must be 32 bytes of hex (64 hex digits, optional 0x) — check the value"
            )
        return value

    @field_validator("funder_address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte address")
        return value


class VenueSettings(_Section):
    """Which Polymarket to talk to. ``local`` (the default) is PolyBot's own protocol-faithful venue."""

    kind: Literal["local", "polymarket"] = "local"
    allow_live: bool = False  # explicit opt-in required to trade on polymarket.com
    local_host: str = "127.0.0.1"
    local_port: int = Field(8790, ge=1, le=65535)
    local_seed: int = 7
    local_markets: int = Field(300, ge=1)
    local_fund_usdc: Decimal = Field(Decimal(10_000), ge=0)
    chain_id: int = contracts.POLYGON_CHAIN_ID
    gamma_url: str | None = None
    clob_url: str | None = None
    data_url: str | None = None
    ws_market_url: str | None = None
    ws_user_url: str | None = None

    def url(self, service: VenueService) -> str:
        """Return the base URL of one Polymarket service for the configured venue."""
        explicit = getattr(self, f"{service}_url")
        if explicit:
            return str(explicit)
        if self.kind == "polymarket":
            return {
                "gamma": contracts.GAMMA_URL,
                "clob": contracts.CLOB_URL,
                "data": contracts.DATA_URL,
                "ws_market": contracts.WS_MARKET_URL,
                "ws_user": contracts.WS_USER_URL,
            }[service]
        base = f"{self.local_host}:{self.local_port}"
        return {
            "gamma": f"http://{base}/gamma",
            "clob": f"http://{base}",
            "data": f"http://{base}/data-api",
            "ws_market": f"ws://{base}/ws/market",
            "ws_user": f"ws://{base}/ws/user",
        }[service]


class ApiSettings(_Section):
    """The REST/WebSocket API service."""

    host: str = "127.0.0.1"  # loopback only unless configured
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = ["http://127.0.0.1:5173", "http://localhost:5173"]


class Settings(BaseSettings):
    """Everything PolyBot needs to know about where things are."""

    model_config = SettingsConfigDict(
        env_prefix="POLYBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    executor_mode: Literal["paper", "live"] = "live"  # live = real orders to the configured venue
    cancel_on_shutdown: bool = True
    strategies_dir: Path = Path("configs/strategies")
    bus: BusSettings = BusSettings()
    venue: VenueSettings = VenueSettings()
    polymarket: PolymarketCredentials = PolymarketCredentials()
    risk: RiskLimits = RiskLimits()
    api: ApiSettings = ApiSettings()

    @model_validator(mode="after")
    def _live_needs_opt_in(self) -> Settings:
        if self.venue.kind == "polymarket" and self.executor_mode == "live":
            if not self.venue.allow_live:
                raise ValueError(
                    "venue.kind is 'polymarket' with executor_mode 'live': real money. Set "
                    "POLYBOT_VENUE__ALLOW_LIVE=true to opt in, or use executor_mode 'paper'"
                )
            if self.polymarket.private_key is None:
                raise ValueError(
                    "live trading on polymarket.com needs POLYBOT_POLYMARKET__PRIVATE_KEY"
                )
        return self

    @property
    def sqlite_path(self) -> Path:
        """Return the operational SQLite database path."""
        return self.data_dir / "polybot.db"

    @property
    def analytics_path(self) -> Path:
        """Return the analytics DuckDB path (owned by the analytics service)."""
        return self.data_dir / "analytics.duckdb"

    @property
    def strategy_logs_path(self) -> Path:
        """Return the strategy-logs DuckDB path (owned by the strategy runner)."""
        return self.data_dir / "strategy_logs.duckdb"

    @property
    def logs_dir(self) -> Path:
        """Return where service logs go."""
        return self.data_dir / "logs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init kwargs, then env, then the TOML file, then defaults."""
        config_file = os.environ.get("POLYBOT_CONFIG", DEFAULT_CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)),
        )


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings; raise ``ConfigError`` listing every problem and how to fix it."""
    config_file = os.environ.get("POLYBOT_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"POLYBOT_CONFIG points to {config_file!r}, which is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Return the effective settings as plain data with every secret masked."""
    data: dict[str, Any] = settings.model_dump(mode="json")  # SecretStr dumps as '**********'
    services: tuple[VenueService, ...] = ("gamma", "clob", "data", "ws_market", "ws_user")
    data["venue"]["effective_urls"] = {name: settings.venue.url(name) for name in services}
    return data


def _explain(exc: ValidationError) -> str:
    lines = ["invalid PolyBot configuration:"]
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(settings)"
        env_name = "POLYBOT_" + "__".join(str(part).upper() for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling)"
        hint = f" (env {env_name})" if error["loc"] else ""
        lines.append(f"  - {location}: {message}{hint}")
    return "\n".join(lines)
