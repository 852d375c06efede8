"""Recorded market data: Parquet partitions by day/market, the Recorder, importers and replay.

Must not import venues, strategies or engine (it sits beside them in the layer stack).
"""

from polybot.recording.recorder import Recorder
from polybot.recording.replay import ReplayData, messages, verify_hashes
from polybot.recording.store import RecordStore

__all__ = ["RecordStore", "Recorder", "ReplayData", "messages", "verify_hashes"]
