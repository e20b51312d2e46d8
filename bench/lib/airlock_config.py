"""Rewrite the airlock.toml that ``airlock init`` wrote, for the benchmark.

Usage: ``airlock_config.py FILE PG_LISTEN [EXTRA_TOML]``. Sets ``[postgres] listen``, turns the
SSH and HTTP listeners off, and deep-merges EXTRA_TOML (a TOML snippet, e.g. from the
AIRLOCK_EXTRA_CONFIG environment variable) over the result.

The writer below is our own because the venv has no TOML writer (tomllib only reads) and the
files are tiny and flat; adding tomli-w for a bench helper was not worth a dependency.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump(data: Mapping[str, Any], prefix: str = "") -> str:
    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in data.items():
        if isinstance(v, Mapping):
            name = f"{prefix}.{k}" if prefix else k
            out += f"\n[{name}]\n" + dump(v, name)
    return out


def main(path: Path, listen: str, extra: str) -> None:
    config = tomllib.loads(path.read_text())
    merge(
        config,
        {"postgres": {"listen": listen}, "ssh": {"listen": "off"}, "http": {"listen": "off"}},
    )
    merge(config, tomllib.loads(extra))
    path.write_text(dump(config))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
