"""docs/wire.md and docs/wire.schema.json are generated from the code; they must not drift."""

from __future__ import annotations

from fixture_files import REPO_ROOT

from polybot.bus import schema


def test_wire_markdown_is_in_sync_with_the_messages() -> None:
    committed = (REPO_ROOT / schema.WIRE_DOC).read_text()
    assert committed == schema.render_markdown(), (
        "docs/wire.md is stale: run `polybot bus schema --write`"
    )


def test_wire_json_schema_is_in_sync_with_the_messages() -> None:
    committed = (REPO_ROOT / schema.WIRE_JSON_SCHEMA).read_text()
    assert committed == schema.render_json_schema(), (
        "docs/wire.schema.json is stale: run `polybot bus schema --write`"
    )


def test_every_message_type_is_documented() -> None:
    text = schema.render_markdown()
    for tag in (
        "price",
        "signal",
        "event",
        "book",
        "book_delta",
        "trade",
        "order_update",
        "fill",
        "heartbeat",
        "command",
        "response",
    ):
        assert f"## `{tag}`" in text
