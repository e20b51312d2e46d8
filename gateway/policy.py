"""Pure policy: (Session, Action, Classification) -> Verdict.

Rules are tried in order and the first match decides. After the configured rules the
built-in rule ``builtin-allow-benign`` allows what is only ``read``/``write``/
``transaction``/``session`` (or nothing, e.g. an empty query), unless ``policy.builtin =
false``. Whatever nothing matched gets ``policy.fallback`` (default ``review``).

Matchers inside a rule are ANDed; the values of one matcher are ORed, except where that
would let an ``allow`` rule wave through more than it names (fail closed, invariant 1):

* ``categories``: an ``allow`` rule matches only if EVERY category of the classification is
  in the rule's list (``allow read`` does not allow ``read`` + ``privilege``); ``deny`` and
  ``review`` rules match on ANY overlap.
* ``objects``: an ``allow`` rule matches only if the classification names at least one object
  and EVERY object matches one of the globs; ``deny``/``review`` match if ANY object does.
* ``unknown`` is never allowed unless the rule lists ``unknown`` in ``categories``
  explicitly (an ``allow`` rule without ``categories`` skips unknown actions, and an
  ``allow`` fallback turns into review for them).

No I/O and no clocks here: the checkpoint and ``airlock check`` call :meth:`Policy.evaluate`
and get the same answer for the same inputs.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.config_table import ConfigError
from gateway.model import Action, ActionKind, Decision, ReviewMode, Session, Verdict, WireProtocol
from protocols.classification import BENIGN, Category, Classification

#: Process-wide load counter: part of verdict cache keys, so a reload never reuses a verdict.
_versions = itertools.count(1)

BUILTIN_RULE = "builtin-allow-benign"
FALLBACK_RULE = "fallback"
_RESERVED = (BUILTIN_RULE, FALLBACK_RULE, "internal-error")

_REVIEW_KEYS = ("approvers", "quorum", "timeout", "mode")
_RULE_KEYS = frozenset(
    {"name", "decision", "message", "protocols", "targets", "users", "groups"}
    | {"categories", "objects", "text", "kinds"}
    | set(_REVIEW_KEYS)
)
_POLICY_KEYS = frozenset({"rules", "builtin", "fallback", *_REVIEW_KEYS})
_MAX_REASONS = 5  # keep client error messages and chat cards readable


class _Globs:
    """Shell-style globs compiled into one regex (fnmatch), matched case-sensitively."""

    __slots__ = ("_re", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._re = re.compile("|".join(fnmatch.translate(p) for p in patterns))

    def match(self, value: str) -> bool:
        return self._re.match(value) is not None

    def __repr__(self) -> str:
        return f"_Globs({self.patterns!r})"


@dataclass(frozen=True, slots=True)
class Review:
    """Who may approve, how many distinct people, how long to wait, how to hold."""

    approvers: frozenset[str] = frozenset()  # users and "group:NAME"; empty: broker default
    quorum: int = 1
    timeout_s: float = 600.0
    mode: ReviewMode = ReviewMode.HOLD


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[policy.rules]]`` entry. ``None`` matchers match anything."""

    name: str
    decision: Decision
    message: str = ""
    protocols: frozenset[WireProtocol] | None = None
    targets: _Globs | None = None
    users: _Globs | None = None
    groups: _Globs | None = None
    categories: frozenset[Category] | None = None
    objects: _Globs | None = None
    text: re.Pattern[str] | None = None
    kinds: frozenset[ActionKind] | None = None
    review: Review = field(default_factory=Review)

    def matches(self, session: Session, action: Action, c: Classification) -> bool:
        allow = self.decision is Decision.ALLOW
        if self.protocols is not None and session.protocol not in self.protocols:
            return False
        if self.kinds is not None and action.kind not in self.kinds:
            return False
        if self.targets is not None and not self.targets.match(session.target):
            return False
        if self.users is not None and not self.users.match(session.identity.user):
            return False
        if self.groups is not None and not any(map(self.groups.match, session.identity.groups)):
            return False
        if self.categories is None:
            if allow and Category.UNKNOWN in c.categories:
                return False
        elif allow:
            if not c.categories <= self.categories:
                return False
        elif not c.categories & self.categories:
            return False
        if self.objects is not None:
            if allow:
                if not c.objects or not all(map(self.objects.match, c.objects)):
                    return False
            elif not any(map(self.objects.match, c.objects)):
                return False
        return self.text is None or self.text.search(action.text) is not None


def describe(c: Classification) -> str:
    """Human summary of a classification for verdict reasons: categories and why."""
    if not c.categories:
        return "no categories (nothing to run)"
    text = "categories " + ", ".join(sorted(c.categories))
    if c.reasons:
        shown = list(c.reasons[:_MAX_REASONS])
        if len(c.reasons) > _MAX_REASONS:
            shown.append(f"and {len(c.reasons) - _MAX_REASONS} more")
        text += f" ({'; '.join(shown)})"
    return text


_VERBS = {Decision.ALLOW: "allowed", Decision.DENY: "denied", Decision.REVIEW: "need review"}


def _verdict(decision: Decision, rule: str, reason: str, review: Review) -> Verdict:
    if decision is not Decision.REVIEW:
        return Verdict(decision, rule, reason)
    r = review
    return Verdict(decision, rule, reason, r.approvers, r.quorum, r.timeout_s, r.mode)


@dataclass(frozen=True, slots=True)
class Policy:
    """An ordered rule list plus the built-in rule and the fallback; immutable once loaded."""

    rules: tuple[Rule, ...] = ()
    builtin: bool = True
    fallback: Decision = Decision.REVIEW
    review: Review = field(default_factory=Review)
    version: int = field(default_factory=lambda: next(_versions))

    def evaluate(self, session: Session, action: Action, classification: Classification) -> Verdict:
        """First matching rule decides; every verdict names its rule and says why."""
        what = describe(classification)
        for rule in self.rules:
            if rule.matches(session, action, classification):
                reason = f"{what} {_VERBS[rule.decision]}"
                if rule.message:
                    reason = f"{rule.message}: {reason}"
                return _verdict(rule.decision, rule.name, reason, rule.review)
        if self.builtin and classification.categories <= BENIGN:
            return Verdict(Decision.ALLOW, BUILTIN_RULE, f"{what} allowed by default")
        decision = self.fallback
        if decision is Decision.ALLOW and Category.UNKNOWN in classification.categories:
            # Fail closed: an allow-everything fallback still holds what could not be read.
            decision = Decision.REVIEW
        return _verdict(
            decision, FALLBACK_RULE, f"{what} {_VERBS[decision]} (no rule matched)", self.review
        )


def default_policy() -> Policy:
    """Built-in policy: read/write/transaction/session allowed, everything else reviewed."""
    return Policy()


# --- loading -----------------------------------------------------------------------------


def _bad(key: str, problem: str) -> ConfigError:
    return ConfigError(key, problem)


def _typed(
    raw: Mapping[str, Any], key: str, name: str, kind: type[Any] | tuple[type[Any], ...], what: str
) -> Any:
    value = raw[name]
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if not ok:
        raise _bad(f"{key}.{name}", f"must be {what}, got {value!r}")
    return value


def _strings(raw: Mapping[str, Any], key: str, name: str) -> list[str] | None:
    """A non-empty list of non-empty strings, or None when the key is absent."""
    if name not in raw:
        return None
    values = raw[name]
    if isinstance(values, str):
        values = [values]  # a lone string is what people mean by a one-item list
    if not isinstance(values, list):
        raise _bad(f"{key}.{name}", f"must be a list of strings, got {values!r}")
    if not values:
        raise _bad(f"{key}.{name}", "must not be empty (leave the key out to match anything)")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise _bad(f"{key}.{name}[{i}]", f"must be a non-empty string, got {value!r}")
    return list(values)


def _enum_set(
    raw: Mapping[str, Any], key: str, name: str, enum: type[Any]
) -> frozenset[Any] | None:
    values = _strings(raw, key, name)
    if values is None:
        return None
    allowed = ", ".join(e.value for e in enum)
    out = set()
    for i, value in enumerate(values):
        try:
            out.add(enum(value))
        except ValueError:
            raise _bad(
                f"{key}.{name}[{i}]", f"unknown value {value!r}; one of: {allowed}"
            ) from None
    return frozenset(out)


def _globs(raw: Mapping[str, Any], key: str, name: str) -> _Globs | None:
    values = _strings(raw, key, name)
    if values is None:
        return None
    for i, value in enumerate(values):
        if name == "objects" and ":" not in value and not value.startswith("*"):
            problem = f"object globs are KIND:NAME (table:public.*), got {value!r}"
            raise _bad(f"{key}.{name}[{i}]", problem)
        if value.count("[") != value.count("]"):
            raise _bad(f"{key}.{name}[{i}]", f"unbalanced [ ] in glob {value!r}")
    return _Globs(values)


def _decision(raw: Mapping[str, Any], key: str, name: str, default: Decision | None) -> Decision:
    if name not in raw:
        if default is None:
            raise _bad(f"{key}.{name}", "is required (allow, deny or review)")
        return default
    value = _typed(raw, key, name, str, "a string")
    try:
        return Decision(value)
    except ValueError:
        raise _bad(f"{key}.{name}", f"must be allow, deny or review, got {value!r}") from None


def _review(raw: Mapping[str, Any], key: str, base: Review) -> Review:
    approvers = base.approvers
    values = _strings(raw, key, "approvers")
    if values is not None:
        for i, value in enumerate(values):
            if value.startswith("group:") and not value[6:]:
                raise _bad(f"{key}.approvers[{i}]", "group:NAME needs a NAME")
        approvers = frozenset(values)
    quorum = base.quorum
    if "quorum" in raw:
        quorum = _typed(raw, key, "quorum", int, "an integer")
        if quorum < 1:
            raise _bad(f"{key}.quorum", f"must be >= 1, got {quorum}")
    if approvers and all(not a.startswith("group:") for a in approvers) and quorum > len(approvers):
        problem = f"{quorum} approvals needed but only {len(approvers)} approvers named"
        raise _bad(f"{key}.quorum", problem)
    timeout = base.timeout_s
    if "timeout" in raw:
        timeout = float(_typed(raw, key, "timeout", (int, float), "a number of seconds"))
        if not timeout > 0 or timeout == float("inf"):
            raise _bad(f"{key}.timeout", f"must be a finite number of seconds > 0, got {timeout}")
    mode = base.mode
    if "mode" in raw:
        value = _typed(raw, key, "mode", str, "a string")
        try:
            mode = ReviewMode(value)
        except ValueError:
            raise _bad(f"{key}.mode", f"must be hold or retry, got {value!r}") from None
    return Review(approvers, quorum, timeout, mode)


def _unknown_keys(raw: Mapping[str, Any], key: str, known: frozenset[str]) -> None:
    extra = sorted(set(raw) - known)
    if extra:
        raise _bad(f"{key}.{extra[0]}", "unknown key (check the spelling)")


def _rule(raw: Any, key: str, defaults: Review, seen: set[str]) -> Rule:
    if not isinstance(raw, Mapping):
        raise _bad(key, "must be a table ([[policy.rules]])")
    _unknown_keys(raw, key, _RULE_KEYS)
    if "name" not in raw:
        raise _bad(f"{key}.name", "is required")
    name = _typed(raw, key, "name", str, "a string").strip()
    if not name:
        raise _bad(f"{key}.name", "must not be empty")
    if name in _RESERVED or name.startswith("builtin"):
        raise _bad(f"{key}.name", f"{name!r} is reserved for built-in rules")
    if name in seen:
        raise _bad(f"{key}.name", f"duplicate rule name {name!r}")
    seen.add(name)
    decision = _decision(raw, key, "decision", None)
    if decision is not Decision.REVIEW:
        for extra in _REVIEW_KEYS:
            if extra in raw:
                problem = f"only applies to review rules (this one is {decision})"
                raise _bad(f"{key}.{extra}", problem)
    text = None
    if "text" in raw:
        pattern = _typed(raw, key, "text", str, "a regular expression string")
        try:
            text = re.compile(pattern)
        except re.error as exc:
            raise _bad(f"{key}.text", f"invalid regex: {exc}") from None
    message = _typed(raw, key, "message", str, "a string") if "message" in raw else ""
    return Rule(
        name=name,
        decision=decision,
        message=message,
        protocols=_enum_set(raw, key, "protocols", WireProtocol),
        targets=_globs(raw, key, "targets"),
        users=_globs(raw, key, "users"),
        groups=_globs(raw, key, "groups"),
        categories=_enum_set(raw, key, "categories", Category),
        objects=_globs(raw, key, "objects"),
        text=text,
        kinds=_enum_set(raw, key, "kinds", ActionKind),
        review=_review(raw, key, defaults),
    )


def load_policy(raw: Mapping[str, Any]) -> Policy:
    """Build a Policy from the ``[policy]`` TOML table; errors name the exact key."""
    key = "policy"
    if not isinstance(raw, Mapping):
        raise _bad(key, "must be a table")
    _unknown_keys(raw, key, _POLICY_KEYS)
    builtin = _typed(raw, key, "builtin", bool, "true or false") if "builtin" in raw else True
    fallback = _decision(raw, key, "fallback", Decision.REVIEW)
    defaults = _review(raw, key, Review())
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise _bad(f"{key}.rules", "must be an array of tables ([[policy.rules]])")
    seen: set[str] = set()
    rules = tuple(_rule(r, f"{key}.rules[{i}]", defaults, seen) for i, r in enumerate(rules_raw))
    return Policy(rules, builtin, fallback, defaults)
