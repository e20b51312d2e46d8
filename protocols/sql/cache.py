"""An exact-text LRU cache in front of the classifier.

Keyed on the exact text and the LexingState, never on a normalized form (literals change
the risk: ``set_config('role', ...)``). The gateway adds its policy version by keeping one
cache per policy version or clearing it on reload. Results that depend on more session
state (``cacheable=False``: EXECUTE of a prepared name) are never stored.

Own code rather than ``functools.lru_cache``: that cannot skip storing uncacheable
results, and cannot take the ``prepared`` mapping (unhashable) as an argument.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from protocols.classification import Classification
from protocols.sql.classify import analyze_sql
from protocols.sql.context import SqlEffects
from protocols.sql.lexing import LexingState

_DEFAULT_STATE = LexingState()
_NO_PREPARED: Mapping[str, Classification] = {}


class SqlClassifierCache:
    """LRU of (text, LexingState) -> (Classification, SqlEffects). Not thread-safe."""

    __slots__ = ("_data", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple[str, LexingState], tuple[Classification, SqlEffects]]
        self._data = OrderedDict()
        self.hits = 0
        self.misses = 0

    def analyze(
        self,
        text: str,
        state: LexingState = _DEFAULT_STATE,
        prepared: Mapping[str, Classification] = _NO_PREPARED,
    ) -> tuple[Classification, SqlEffects]:
        key = (text, state)
        found = self._data.get(key)
        if found is not None:
            self._data.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        result = analyze_sql(text, state, prepared)
        if result[0].cacheable and self.maxsize > 0:
            self._data[key] = result
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return result

    def classify(
        self,
        text: str,
        state: LexingState = _DEFAULT_STATE,
        prepared: Mapping[str, Classification] = _NO_PREPARED,
    ) -> Classification:
        return self.analyze(text, state, prepared)[0]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
