"""Order heartbeats: the per-api-key dead-man switch (reference §3.3 ``POST /v1/heartbeats``).

The first accepted heartbeat (id ``""``) arms the switch for every open order of that api key and
returns an id; each later heartbeat must echo the last id returned. If no heartbeat is accepted
for ``timeout`` the venue cancels all that key's orders and the chain is dropped, so the next
heartbeat starts again from ``""``. There is no disarm call, as on the real venue.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

INVALID_HEARTBEAT_ID = "Invalid Heartbeat ID"


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """Outcome of one heartbeat: accepted with a new id, or refused with the expected id."""

    ok: bool
    heartbeat_id: str
    error_msg: str = ""

    def to_wire(self) -> dict[str, Any]:
        """Return the response body (200 when ``ok``, else 400)."""
        if self.ok:
            return {"heartbeat_id": self.heartbeat_id}
        return {"error_msg": self.error_msg, "heartbeat_id": self.heartbeat_id}


@dataclass(slots=True)
class _Chain:
    expected_id: str
    last_ns: int


class Heartbeats:
    """Heartbeat chains per api key."""

    def __init__(self, timeout_ns: int) -> None:
        self.timeout_ns = timeout_ns
        self._chains: dict[str, _Chain] = {}
        self._counter = 0

    def armed(self, api_key: str) -> bool:
        """Return True when the dead-man switch is armed for ``api_key``."""
        return api_key in self._chains

    def beat(self, api_key: str, heartbeat_id: str, now_ns: int) -> HeartbeatResult:
        """Accept or refuse a heartbeat."""
        chain = self._chains.get(api_key)
        expected = chain.expected_id if chain else ""
        if heartbeat_id != expected:
            return HeartbeatResult(False, expected, INVALID_HEARTBEAT_ID)
        self._counter += 1
        # deterministic ids keep replays identical; uniqueness comes from the counter
        digest = hashlib.sha256(f"heartbeat:{api_key}:{self._counter}".encode()).digest()
        new_id = str(uuid.UUID(bytes=digest[:16], version=4))
        self._chains[api_key] = _Chain(new_id, now_ns)
        return HeartbeatResult(True, new_id)

    def expire(self, now_ns: int) -> list[str]:
        """Drop and return the api keys whose last accepted heartbeat is older than the timeout."""
        dead = [k for k, c in self._chains.items() if now_ns - c.last_ns > self.timeout_ns]
        for key in dead:
            del self._chains[key]
        return dead
