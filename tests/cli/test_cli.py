"""The ``polybot`` command as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fixture_files import REPO_ROOT

POLYBOT = [sys.executable, "-m", "polybot.cli.main"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    return subprocess.run(
        [*POLYBOT, *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_command_groups(tmp_path: Path) -> None:
    result = run(["--help"], {}, tmp_path)
    assert result.returncode == 0
    for command in ("version", "config", "db", "bus"):
        assert command in result.stdout


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = run(["version"], {}, tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip().count(".") == 2


def test_config_never_prints_a_secret(tmp_path: Path) -> None:
    secrets = {
        "POLYBOT_POLYMARKET__PRIVATE_KEY": "0x" + "9a" * 32,
        "POLYBOT_POLYMARKET__API_SECRET": "dG9wLXNlY3JldA==",
        "POLYBOT_POLYMARKET__API_PASSPHRASE": "correct-horse",
    }
    for args in (["config"], ["config", "--json"]):
        result = run(args, secrets, tmp_path)
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        for value in secrets.values():
            assert value not in output
            assert value.removeprefix("0x") not in output
        assert "**********" in output
    parsed = json.loads(run(["config", "--json"], secrets, tmp_path).stdout)
    assert parsed["venue"]["effective_urls"]["clob"] == "http://127.0.0.1:8790"


def test_bad_config_exits_2_with_a_readable_message(tmp_path: Path) -> None:
    result = run(["config"], {"POLYBOT_API__PORT": "seventy"}, tmp_path)
    assert result.returncode == 2
    assert "api.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_bus_schema_prints_the_generated_contract(tmp_path: Path) -> None:
    result = run(["bus", "schema"], {}, tmp_path)
    assert result.returncode == 0
    assert result.stdout == (REPO_ROOT / "docs" / "wire.md").read_text()


def test_db_init_stats_downgrade_migrate_on_a_real_file(tmp_path: Path) -> None:
    missing = run(["db", "stats"], {}, tmp_path)
    assert missing.returncode == 1
    assert "run `polybot db init` first" in missing.stderr
    assert run(["db", "init"], {}, tmp_path).returncode == 0
    stats = json.loads(run(["db", "stats", "--json"], {}, tmp_path).stdout)
    assert stats["journal_mode"] == "wal"
    assert {"orders", "signal_journal", "dead_letters", "audit_log"} <= set(stats["tables"])
    assert "at revision None" in run(["db", "downgrade", "base"], {}, tmp_path).stdout
    assert "at revision None" not in run(["db", "migrate"], {}, tmp_path).stdout
    assert (tmp_path / "data" / "polybot.db").exists()
