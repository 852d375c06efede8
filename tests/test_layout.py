"""Guards on the test tree itself."""

from __future__ import annotations

from collections import Counter

from fixture_files import REPO_ROOT


def test_test_modules_have_unique_basenames() -> None:
    # pytest's default (prepend) import mode imports test modules by basename: two test_x.py in
    # different folders collide and the second one fails to collect.
    names = Counter(
        path.name
        for path in (REPO_ROOT / "tests").rglob("*.py")
        if path.name != "conftest.py" and "node_modules" not in path.parts
    )
    assert [name for name, count in names.items() if count > 1] == []
