"""Balances and reservations of the local venue, in integer base units (6 decimals).

Every address holds pUSD and outcome assets. Resting orders *reserve* what they could spend
(BUY: collateral, SELL: shares) so an account can never promise the same unit twice; a balance
query reports the full balance, the reserved part and what is available.

Collateral that backs minted YES/NO pairs sits in ``locked`` per market (the CTF contract's
role): minting moves pUSD in, merging and redeeming move it out. So
``sum(collateral) + sum(locked) == total funded`` at all times, and for each binary market
``YES supply == NO supply == locked`` until resolution.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from polybot.venues.sim.matcher import Asset, Settlement


class AssetType(StrEnum):
    """``asset_type`` of ``/balance-allowance``."""

    COLLATERAL = "COLLATERAL"
    CONDITIONAL = "CONDITIONAL"
    CONDITIONAL_V2 = "CONDITIONAL-V2"


@dataclass(frozen=True, slots=True)
class BalanceView:
    """One balance: total, reserved by open orders, and available."""

    balance: int
    reserved: int

    @property
    def available(self) -> int:
        """Return what new orders may still use."""
        return self.balance - self.reserved


class InsufficientBalance(Exception):
    """A debit or reservation would exceed what is available."""


class Accounts:
    """The ledger. Addresses are stored lower-case."""

    def __init__(self) -> None:
        self.collateral: defaultdict[str, int] = defaultdict(int)
        self.tokens: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.reserved_collateral: defaultdict[str, int] = defaultdict(int)
        self.reserved_tokens: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.locked: defaultdict[str, int] = defaultdict(int)   # condition id -> pUSD
        self.total_funded = 0

    # ---- queries -----------------------------------------------------------------------
    def collateral_view(self, address: str) -> BalanceView:
        """Return the pUSD balance of ``address``."""
        a = address.lower()
        return BalanceView(self.collateral.get(a, 0), self.reserved_collateral.get(a, 0))

    def token_view(self, address: str, asset_id: str) -> BalanceView:
        """Return the balance of one outcome asset."""
        key = (address.lower(), asset_id)
        return BalanceView(self.tokens.get(key, 0), self.reserved_tokens.get(key, 0))

    def positions(self, address: str) -> dict[str, int]:
        """Return every non-zero outcome-asset balance of ``address``."""
        a = address.lower()
        return {asset: units for (owner, asset), units in self.tokens.items() if owner == a and units}

    def total_collateral(self) -> int:
        """Return pUSD held by accounts plus pUSD locked behind minted pairs."""
        return sum(self.collateral.values()) + sum(self.locked.values())

    def supply(self, asset_id: str) -> int:
        """Return the outstanding amount of one outcome asset."""
        return sum(units for (_, asset), units in self.tokens.items() if asset == asset_id)

    # ---- funding -----------------------------------------------------------------------
    def fund(self, address: str, amount: int) -> int:
        """Credit new pUSD (admin faucet); return the new balance."""
        if amount <= 0:
            raise ValueError("funding amount must be positive")
        a = address.lower()
        self.collateral[a] += amount
        self.total_funded += amount
        return self.collateral[a]

    # ---- reservations ------------------------------------------------------------------
    def reserve_collateral(self, address: str, amount: int) -> None:
        """Reserve pUSD for an order; raises if not available."""
        a = address.lower()
        if amount > self.collateral[a] - self.reserved_collateral[a]:
            raise InsufficientBalance(a)
        self.reserved_collateral[a] += amount

    def release_collateral(self, address: str, amount: int) -> None:
        """Release a pUSD reservation."""
        a = address.lower()
        self.reserved_collateral[a] -= amount
        assert self.reserved_collateral[a] >= 0, "released more collateral than reserved"

    def reserve_tokens(self, address: str, asset_id: str, amount: int) -> None:
        """Reserve shares for a SELL order; raises if not available."""
        key = (address.lower(), asset_id)
        if amount > self.tokens[key] - self.reserved_tokens[key]:
            raise InsufficientBalance(key[0])
        self.reserved_tokens[key] += amount

    def release_tokens(self, address: str, asset_id: str, amount: int) -> None:
        """Release a share reservation."""
        key = (address.lower(), asset_id)
        self.reserved_tokens[key] -= amount
        assert self.reserved_tokens[key] >= 0, "released more shares than reserved"

    # ---- settlement --------------------------------------------------------------------
    def apply(self, settled: Settlement, *, condition_id: str, yes_asset: str, no_asset: str) -> None:
        """Apply a fill's settlement. Balances never go below zero (checked)."""
        for t in settled.transfers:
            owner = t.owner.lower()
            if t.asset is Asset.COLLATERAL:
                self.collateral[owner] += t.delta
                if self.collateral[owner] < 0:
                    raise InsufficientBalance(f"{owner} collateral {self.collateral[owner]}")
            else:
                key = (owner, yes_asset if t.asset is Asset.YES else no_asset)
                self.tokens[key] += t.delta
                if self.tokens[key] < 0:
                    raise InsufficientBalance(f"{owner} {key[1]} {self.tokens[key]}")
        self.locked[condition_id] += settled.locked_delta

    def revert(self, settled: Settlement, *, condition_id: str, yes_asset: str, no_asset: str) -> bool:
        """Undo a settlement if no balance would go negative; return whether it was undone."""
        inverse = Settlement(
            tuple(type(t)(t.owner, t.asset, -t.delta) for t in settled.transfers),
            -settled.locked_delta,
        )
        net: defaultdict[tuple[str, str], int] = defaultdict(int)
        for t in inverse.transfers:
            asset = "" if t.asset is Asset.COLLATERAL else (
                yes_asset if t.asset is Asset.YES else no_asset
            )
            net[(t.owner.lower(), asset)] += t.delta
        for (owner, asset), delta in net.items():
            if asset == "":
                free = self.collateral[owner] - self.reserved_collateral[owner]
            else:
                free = self.tokens[(owner, asset)] - self.reserved_tokens[(owner, asset)]
            if free + delta < 0:
                return False
        self.apply(inverse, condition_id=condition_id, yes_asset=yes_asset, no_asset=no_asset)
        return True

    def redeem(self, address: str, *, condition_id: str, assets: tuple[str, str], winner: int) -> int:
        """Burn both outcome balances of a resolved market, pay 1 pUSD per winning share."""
        a = address.lower()
        payout = 0
        for index, asset in enumerate(assets):
            key = (a, asset)
            units = self.tokens.get(key, 0)
            if self.reserved_tokens.get(key, 0):
                raise InsufficientBalance(f"{a} has open SELL orders on {asset}")
            if index == winner:
                payout += units
            if key in self.tokens:
                self.tokens[key] = 0
        if payout > self.locked[condition_id]:
            raise AssertionError("redeem would pay more than the market's locked collateral")
        self.locked[condition_id] -= payout
        self.collateral[a] += payout
        return payout
