"""ConfigError and the typed reader of one TOML table, shared by every settings parser.

gateway.config parses the top level and calls the parsers of the other sections
(identity, approvals, policy); those parsers need these pieces too, so they live here,
below all of them, rather than in gateway.config (which would make each a cycle).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A config problem; the message starts with the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


class Section:
    """Typed reads from one TOML table, remembering which keys were used."""

    def __init__(self, data: Mapping[str, Any], prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(prefix, "must be a table")
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def get(self, name: str, kind: type[T], default: T) -> T:
        self.used.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(self.key(name), f"must be {kind.__name__}, got {value!r}")
        return value

    def require(self, name: str, kind: type[T]) -> T:
        if name not in self.data:
            raise ConfigError(self.key(name), "is required")
        return self.get(name, kind, None)  # type: ignore[arg-type,return-value]

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.get(name, list, [])
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(name), "must be a list of strings")
        return tuple(value)

    def table(self, name: str) -> Section:
        self.used.add(name)
        return Section(self.data.get(name, {}), self.key(name))

    def positive(self, name: str, kind: type[T], default: T) -> T:
        value = self.get(name, kind, default)
        if value <= 0:  # type: ignore[operator]
            raise ConfigError(self.key(name), f"must be > 0, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key (check the spelling)")


def secret(section: Section, name: str) -> str | None:
    """Secrets come from the environment or a file, never from the config text itself."""
    env = section.get(f"{name}_env", str, "")
    file = section.get(f"{name}_file", str, "")
    if name in section.data:
        raise ConfigError(
            section.key(name),
            f"secrets are not read from config text; use {name}_env or {name}_file",
        )
    if env:
        if env not in os.environ:
            raise ConfigError(section.key(f"{name}_env"), f"environment variable {env} is not set")
        return os.environ[env]
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(section.key(f"{name}_file"), f"cannot read: {exc}") from exc
    return None


def resolve_path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
