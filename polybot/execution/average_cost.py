"""The average-cost arithmetic of one position (account × strategy × token), the one place it is
written down.

* a BUY of ``s`` at ``p`` moves the average price to the size-weighted mean; its fee is booked as
  realized PnL (``−fee``) and in ``fees``;
* a SELL realizes ``s × (p − avg) − fee``;
* a settlement closes the position at its payout price, realizing ``size × (payout − avg)``.

Pure: no I/O. The ledger loads a stored position into a ``Book``, moves it and stores it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polybot.storage.models import Position

ZERO = Decimal(0)


@dataclass(slots=True)
class Book:
    """Size, average price, realized PnL (net of fees) and fees of one position."""

    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO

    @classmethod
    def of(cls, position: Position) -> Book:
        """Return the book of a stored position."""
        return cls(position.size, position.avg_price, position.realized_pnl, position.fees_paid)

    def fill(self, side: str, price: Decimal, size: Decimal, fee: Decimal) -> Decimal:
        """Apply one fill; return the PnL it realized (net of its fee)."""
        realized = -fee
        if side == "BUY":
            total = self.size + size
            self.avg_price = (
                (self.avg_price * self.size + price * size) / total if total != 0 else ZERO
            )
            self.size = total
        else:
            closing = min(size, max(self.size, ZERO))
            realized += closing * (price - self.avg_price)
            self.size = self.size - size
            if self.size <= 0:
                self.avg_price = ZERO
        self.realized += realized
        self.fees += fee
        return realized

    def settle(self, payout_price: Decimal) -> Decimal:
        """Close the position at ``payout_price`` (1 won, 0 lost, ½ split); return the PnL."""
        realized = self.size * (payout_price - self.avg_price)
        self.size = ZERO
        self.avg_price = ZERO
        self.realized += realized
        return realized

    def store(self, position: Position) -> None:
        """Write this book into a position row."""
        position.size = self.size
        position.avg_price = self.avg_price
        position.realized_pnl = self.realized
        position.fees_paid = self.fees
