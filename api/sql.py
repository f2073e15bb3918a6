"""Named SQL queries loaded from api/queries/*.sql.

Each query sits under a header ``-- name: some_name`` followed by a one-line
description comment. Python never builds SQL by concatenation; it looks queries up
here by name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

__all__ = ["load_queries", "q"]

_DIR = Path(__file__).resolve().parent / "queries"
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_queries(folder: Path = _DIR) -> dict[str, str]:
    """Return {name: sql} for every query in every .sql file of ``folder``."""
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text()
        marks = list(_HEADER.finditer(text))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[mark.end() : end].strip()
            name = mark.group(1)
            if name in queries:
                raise ValueError(f"query {name!r} is defined twice ({path.name})")
            queries[name] = body
    return queries


@lru_cache(maxsize=1)
def _all() -> dict[str, str]:
    return load_queries()


def q(name: str) -> str:
    """The SQL text of the named query."""
    return _all()[name]
