"""A directory of Parquet partitions: ``<root>/{normalized,raw}/date=YYYY-MM-DD/market=<id>/``.

Every file is written under a temporary name and renamed into place, so readers of a running
stack (notebooks, the backtester) never see a half-written partition. Files are immutable once
renamed; a session appends new ``part-*.parquet`` files rather than rewriting old ones.

Market metadata lives in ``markets.json`` (msgspec-encoded ``Market`` objects). Resolution facts
are *not* kept there: outcomes are only ever revealed by ``RESOLVED`` rows at their time.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from polybot.model.market import Market, Outcome
from polybot.recording.schema import NORMALIZED, RAW

_NS_PER_DAY = 86_400 * 1_000_000_000


def day_of(ts_ns: int) -> str:
    """Return the UTC date (``YYYY-MM-DD``) of a ns timestamp."""
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=dt.UTC).date().isoformat()


def _safe(name: str) -> str:
    # Partition names must be path-safe whatever a venue calls its markets.
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def strip_resolution(market: Market) -> Market:
    """Return ``market`` without anything that reveals its outcome (winner flags, prices)."""
    outcomes = tuple(Outcome(name=o.name, asset_id=o.asset_id) for o in market.outcomes)
    return msgspec.structs.replace(
        market,
        outcomes=outcomes,
        closed=False,
        last_trade_price=None,
        best_bid=None,
        best_ask=None,
        spread=None,
        closed_time=None,
        uma_resolution_status="",
        resolution_status="",
    )


class RecordStore:
    """The on-disk catalogue of recorded data."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ---- writing ----------------------------------------------------------------------------
    def write_normalized(self, table: pa.Table) -> list[Path]:
        """Write rows (``NORMALIZED`` schema) split into day/market partitions; return paths."""
        return self._write_partitioned("normalized", table.cast(NORMALIZED))

    def write_raw(self, table: pa.Table) -> list[Path]:
        """Write raw frames (``RAW`` schema) into day/market partitions; return the paths."""
        return self._write_partitioned("raw", table.cast(RAW))

    def _write_partitioned(self, kind: str, table: pa.Table) -> list[Path]:
        if table.num_rows == 0:
            return []
        days = pc.divide(table["ts_recv"], pa.scalar(_NS_PER_DAY, pa.int64()))
        table = table.append_column("_day", days)
        written: list[Path] = []
        for key in table.group_by(["_day", "market"]).aggregate([]).to_pylist():
            mask = pc.and_(
                pc.equal(table["_day"], key["_day"]), pc.equal(table["market"], key["market"])
            )
            part = table.filter(mask).drop_columns(["_day"])
            day = day_of(int(key["_day"]) * _NS_PER_DAY)
            folder = self.root / kind / f"date={day}" / f"market={_safe(key['market'])}"
            written.append(self._write_atomic(folder, part))
        return written

    @staticmethod
    def _write_atomic(folder: Path, table: pa.Table) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        first = int(table["ts_recv"][0].as_py())
        final = folder / f"part-{first:020d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)  # atomic on POSIX: readers see the old set or the new file
        return final

    def write_markets(self, markets: Iterable[Market]) -> Path:
        """Merge ``markets`` into ``markets.json`` (by condition id), atomically."""
        known = {m.condition_id: m for m in self.markets()}
        for market in markets:
            known[market.condition_id] = market
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "markets.json"
        tmp = self.root / f".markets.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_bytes(msgspec.json.encode(list(known.values())))
        os.replace(tmp, path)
        return path

    # ---- reading ----------------------------------------------------------------------------
    def markets(self) -> list[Market]:
        """Return recorded market metadata (as recorded, outcomes included)."""
        path = self.root / "markets.json"
        if not path.exists():
            return []
        return msgspec.json.decode(path.read_bytes(), type=list[Market])

    def days(self) -> list[str]:
        """Return the recorded days, oldest first."""
        base = self.root / "normalized"
        if not base.exists():
            return []
        return sorted(p.name.removeprefix("date=") for p in base.glob("date=*"))

    def files(
        self,
        kind: str = "normalized",
        *,
        start: str | None = None,
        end: str | None = None,
        markets: Sequence[str] | None = None,
    ) -> list[Path]:
        """Return the partition files within ``[start, end]`` days (inclusive), optionally per market."""
        base = self.root / kind
        wanted = {_safe(m) for m in markets} if markets is not None else None
        out: list[Path] = []
        for day_dir in sorted(base.glob("date=*")):
            day = day_dir.name.removeprefix("date=")
            if (start and day < start) or (end and day > end):
                continue
            for market_dir in sorted(day_dir.glob("market=*")):
                if wanted is not None and market_dir.name.removeprefix("market=") not in wanted:
                    continue
                out.extend(sorted(market_dir.glob("part-*.parquet")))
        return out

    def read(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        markets: Sequence[str] | None = None,
        kind: str = "normalized",
    ) -> pa.Table:
        """Return all rows in range, sorted by receive time then message number."""
        schema = NORMALIZED if kind == "normalized" else RAW
        files = self.files(kind, start=start, end=end, markets=markets)
        if not files:
            return schema.empty_table()
        table = pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
        # The row number is the last key so rows of one message keep their written order.
        order = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
        keys = [("ts_recv", "ascending")]
        if kind == "normalized":
            keys.append(("msg", "ascending"))
        keys.append(("_row", "ascending"))
        return table.take(pc.sort_indices(order, sort_keys=keys))
