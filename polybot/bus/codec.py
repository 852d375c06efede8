"""Encode and decode bus frames: one msgpack map per frame, validated on the way in.

``decode`` either returns a fully valid message or raises a ``WireError`` subclass carrying the
reason; nothing half-valid gets through. ``subscription_prefix`` gives the leading bytes shared by
every frame of one type (optionally for one market), for NNG SUB prefix filtering.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from polybot.bus.messages import TYPE_BY_TAG, AnyMessage, Message
from polybot.core.errors import MalformedMessage, UnknownMessageType

M = TypeVar("M", bound=Message)

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[AnyMessage] = msgspec.msgpack.Decoder(AnyMessage)
_raw_decoder = msgspec.msgpack.Decoder()


def encode(message: Message) -> bytes:
    """Return the msgpack frame for ``message``."""
    return _encoder.encode(message)


def decode(frame: bytes) -> AnyMessage:
    """Return the message in ``frame`` or raise ``MalformedMessage`` / ``UnknownMessageType``."""
    try:
        return _decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise _diagnose(frame, str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec lets invalid UTF-8 inside a str escape as UnicodeDecodeError.
        raise MalformedMessage(f"not a msgpack message: {exc}", frame) from None


def decode_as(frame: bytes, message_type: type[M]) -> M:
    """Decode ``frame`` and require it to be a ``message_type``."""
    message = decode(frame)
    if not isinstance(message, message_type):
        raise MalformedMessage(
            f"expected a {message_type.__name__} frame, got {type(message).__name__}", frame
        )
    return message


def with_seq(message: M, seq: int) -> M:
    """Return a copy of ``message`` stamped with sequence number ``seq``."""
    return msgspec.structs.replace(message, seq=seq)


def to_dict(message: Message) -> dict[str, Any]:
    """Return the message as the plain dict any msgpack reader would see."""
    result = _raw_decoder.decode(_encoder.encode(message))
    assert isinstance(result, dict)
    return result


def subscription_prefix(message_type: type[Message], market_id: str | None = None) -> bytes:
    """Return the leading bytes of every ``message_type`` frame (for one market, if given).

    Works because msgspec writes the map header, then ``type``, then the fields in declaration
    order, and every market-data message declares ``market_id`` first.
    """
    fields = message_type.__struct_fields__
    # msgpack map header: fixmap for <= 15 entries, map16 above (tag + fields).
    entries = len(fields) + 1
    header = bytes([0x80 | entries]) if entries <= 15 else b"\xde" + entries.to_bytes(2, "big")
    tag = message_type.__struct_config__.tag
    prefix = header + _encoder.encode("type") + _encoder.encode(tag)
    if market_id is not None:
        if not fields or fields[0] != "market_id":
            raise ValueError(f"{message_type.__name__} frames do not start with market_id")
        prefix += _encoder.encode("market_id") + _encoder.encode(market_id)
    return prefix


def _diagnose(frame: bytes, reason: str) -> MalformedMessage | UnknownMessageType:
    try:
        raw = _raw_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return MalformedMessage(f"not a msgpack message: {exc}", frame)
    if not isinstance(raw, dict):
        return MalformedMessage(f"a frame must be a map, got {type(raw).__name__}", frame)
    tag = raw.get("type")
    if tag is None:
        return MalformedMessage("the frame has no 'type' key", frame)
    if tag not in TYPE_BY_TAG:
        known = ", ".join(sorted(TYPE_BY_TAG))
        return UnknownMessageType(f"unknown message type {tag!r} (known: {known})", frame)
    return MalformedMessage(f"invalid {tag} message: {reason}", frame)
