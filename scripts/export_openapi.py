"""Write the API's contract for the frontend's code generators.

* ``frontend/openapi.json``: the REST schema of ``services.api.app.create_app`` (input of
  ``@hey-api/openapi-ts`` → ``frontend/src/api/rest``).
* ``frontend/ws-messages.schema.json``: the JSON Schema of the bus messages the WebSocket bridge
  forwards (input of ``json-schema-to-typescript`` → ``frontend/src/api/ws-messages.ts``).

Both files are committed; ``npm run gen`` regenerates the TypeScript from them and
``tests/ui/test_openapi_sync.py`` fails when they drift from the Python code. Usage::

    .venv/bin/python scripts/export_openapi.py          # rewrite both files
    .venv/bin/python scripts/export_openapi.py --check  # exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONTEND = REPO_ROOT / "frontend"
OPENAPI_PATH = FRONTEND / "openapi.json"
WS_SCHEMA_PATH = FRONTEND / "ws-messages.schema.json"


def openapi_schema() -> dict[str, Any]:
    """Return the OpenAPI document of the API app.

    The app is built over a throwaway data dir: ``create_app`` writes the token file there, and
    the schema does not depend on any setting, so the user's ``data/`` is never touched.
    """
    if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere: services/ is top level
        sys.path.insert(0, str(REPO_ROOT))
    from polybot.config.settings import Settings
    from services.api.app import create_app

    with tempfile.TemporaryDirectory(prefix="pb-openapi-") as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        return app.openapi()


def ws_messages_schema() -> dict[str, Any]:
    """Return the JSON Schema of every bus message (the WebSocket forwards them as they are)."""
    import msgspec

    from polybot.bus.messages import AnyMessage

    schema: dict[str, Any] = msgspec.json.schema(AnyMessage)
    schema["title"] = "BusMessage"
    adapted: dict[str, Any] = _for_json2ts(schema)
    return adapted


def _for_json2ts(node: Any) -> Any:
    """Adapt msgspec's schema to json-schema-to-typescript (same meaning, exact TS types).

    ``prefixItems`` (2020-12) tuples become draft-7 ``items`` lists.

    msgspec describes ``array_like`` structs (book levels) with ``prefixItems``, which
    json-schema-to-typescript turns into ``unknown[]``; the draft-7 spelling gives exact tuple
    types such as ``[number, number]``. Both mean the same to a validator.
    """
    if isinstance(node, list):
        return [_for_json2ts(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _for_json2ts(value) for key, value in node.items()}
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        # A free-form map (``dict[str, Any]``, e.g. Event.data): say so explicitly, because the
        # generator runs with additionalProperties=false so the structs get exact types.
        out["additionalProperties"] = True
    if "prefixItems" in out:
        items = out.pop("prefixItems")
        out["items"] = items
        out["additionalItems"] = False
        out["maxItems"] = len(items)
    return out


def render(document: dict[str, Any]) -> str:
    """Return the committed text of a schema (stable: diffs stay readable)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Return each generated file's expected content."""
    return {OPENAPI_PATH: render(openapi_schema()), WS_SCHEMA_PATH: render(ws_messages_schema())}


def stale_files() -> list[Path]:
    """Return the committed schema files whose content differs from the code's."""
    return [
        path
        for path, text in expected_files().items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the schema files; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            sys.stderr.write(
                f"stale: {path.relative_to(REPO_ROOT)} (run scripts/export_openapi.py)\n"
            )
        return 1 if stale else 0
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(REPO_ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
