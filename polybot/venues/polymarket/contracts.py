"""Polymarket hosts, chain and contract addresses (reference §1). Public facts, not secrets."""

from __future__ import annotations

from typing import Final

POLYGON_CHAIN_ID: Final = 137
AMOY_CHAIN_ID: Final = 80002

GAMMA_URL: Final = "https://gamma-api.polymarket.com"
CLOB_URL: Final = "https://clob.polymarket.com"
DATA_URL: Final = "https://data-api.polymarket.com"
WS_MARKET_URL: Final = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
WS_USER_URL: Final = "wss://ws-subscriptions-clob.polymarket.com/ws/user"

PUSD: Final = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # V2 collateral, 6 decimals
CONDITIONAL_TOKENS: Final = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"
EXCHANGE_V2: Final = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2
NEG_RISK_EXCHANGE_V2: Final = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3: Final = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"  # Protocol-V2 markets
EXCHANGE_V3_AMOY: Final = "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D"
NEG_RISK_ADAPTER: Final = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"

ZERO_BYTES32: Final = "0x" + "00" * 32
