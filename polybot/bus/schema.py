"""Generate the human-readable wire schema (docs/wire.md) and the JSON Schema from the code.

The documents are build artefacts of ``polybot.bus.messages``; a test fails when the committed
copies drift from what this module renders. Regenerate with ``polybot bus schema --write``.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi

from polybot.bus.messages import MESSAGE_TYPES, AnyMessage, Message, type_tag

WIRE_DOC = Path("docs/wire.md")
WIRE_JSON_SCHEMA = Path("docs/wire.schema.json")

_HEADER = """\
# Wire contract

<!-- Generated from polybot/bus/messages.py by `polybot bus schema --write`. Do not edit. -->

Every frame on a PolyBot bus is **one msgpack map**. Its first key is `type`; the other keys follow
in the order below (market data puts `market_id` then `token_id` right after `type`, which makes
the first bytes of a frame a stable prefix for NNG subscription filters). Any msgpack library in any
language reads a frame as a plain dict:

```python
>>> msgpack.unpackb(frame)
{'type': 'price', 'market_id': '0x…', 'token_id': '…', 'bid': 0.45, 'ask': 0.46, 'mid': 0.455,
 'timestamp': 1790000000000, 'seq': 17}
```

Rules:

* `price`, `signal` and `event` are the seed's shapes; their field names and meanings never change.
* Fields are only appended, always with a default. Readers ignore keys they do not know.
* `timestamp` is epoch **milliseconds**. `seq` is stamped per publisher from 1 (0 = unstamped);
  a jump means messages were lost, a fall back to 1 means the publisher restarted.
* `Decimal` fields travel as strings (exact money); market-data prices are floats.
* Decoding validates types and ranges; a frame that fails is rejected whole with a reason
  (`MalformedMessage`, `UnknownMessageType`) and dead-lettered by services.

Notation: `[a, b]` marks an array-like struct (encoded as a msgpack array, not a map).
"""


def render_markdown() -> str:
    """Return docs/wire.md for the current message classes."""
    parts = [_HEADER, *(_render_type(message_type) for message_type in MESSAGE_TYPES)]
    return "\n".join(parts).rstrip() + "\n"


def render_json_schema() -> str:
    """Return the JSON Schema of every message (a tagged union), pretty-printed."""
    schema = msgspec.json.schema(AnyMessage)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_documents(root: Path = Path()) -> list[Path]:
    """Write docs/wire.md and docs/wire.schema.json under ``root``; return the paths written."""
    written = []
    for relative, text in ((WIRE_DOC, render_markdown()), (WIRE_JSON_SCHEMA, render_json_schema())):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _render_type(message_type: type[Message]) -> str:
    info = mi.type_info(message_type)
    assert isinstance(info, mi.StructType)
    doc = inspect.cleandoc(message_type.__doc__ or "").replace("\n", " ").replace("``", "`")
    lines = [
        f"## `{type_tag(message_type)}` — {message_type.__name__}",
        "",
        doc,
        "",
        "| key | type | required | default |",
        "|---|---|---|---|",
        f'| `type` | `"{type_tag(message_type)}"` | yes | |',
    ]
    for field in info.fields:
        default = "" if field.required else _render_default(field)
        required = "yes" if field.required else "no"
        lines.append(
            f"| `{field.encode_name}` | {_render_type_info(field.type)} | {required} | {default} |"
        )
    lines.append("")
    return "\n".join(lines)


def _render_default(field: mi.Field) -> str:
    if field.default_factory is not msgspec.NODEFAULT:
        return f"`{field.default_factory()!r}`"
    return f"`{field.default!r}`"


def _render_type_info(info: mi.Type) -> str:
    if isinstance(info, mi.StrType):
        return "str" + (" (non-empty)" if info.min_length else "")
    if isinstance(info, mi.FloatType):
        return "float" + _bounds(info)
    if isinstance(info, mi.IntType):
        return "int" + _bounds(info)
    if isinstance(info, mi.BoolType):
        return "bool"
    if isinstance(info, mi.DecimalType):
        return "Decimal (string)"
    if isinstance(info, mi.LiteralType):
        return " \\| ".join(f"`{value!r}`".replace("'", '"') for value in info.values)
    if isinstance(info, mi.ListType):
        return f"list of {_render_type_info(info.item_type)}"
    if isinstance(info, mi.DictType):
        return f"map {_render_type_info(info.key_type)} → {_render_type_info(info.value_type)}"
    if isinstance(info, mi.StructType):
        names = ", ".join(
            f"{field.encode_name}: {_render_type_info(field.type)}" for field in info.fields
        )
        return f"[{names}]" if info.array_like else f"{{{names}}}"
    if isinstance(info, mi.AnyType):
        return "any"
    return type(info).__name__


def _bounds(info: Any) -> str:
    low = f"≥ {info.ge}" if info.ge is not None else (f"> {info.gt}" if info.gt is not None else "")
    high = (
        f"≤ {info.le}" if info.le is not None else (f"< {info.lt}" if info.lt is not None else "")
    )
    text = ", ".join(part for part in (low, high) if part)
    return f" ({text})" if text else ""
