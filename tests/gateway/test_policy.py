"""Policy semantics: ordering, fail-closed matching, defaults, and config errors by key."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ConfigError
from gateway.model import (
    Action,
    ActionKind,
    Decision,
    Identity,
    ReviewMode,
    Session,
    WireProtocol,
)
from gateway.policy import (
    BUILTIN_RULE,
    FALLBACK_RULE,
    Policy,
    default_policy,
    load_policy,
)
from protocols.classification import Category, Classification

C = Category


def session(
    protocol: WireProtocol = WireProtocol.POSTGRES,
    user: str = "alice",
    groups: tuple[str, ...] = (),
    target: str = "prod-db",
) -> Session:
    return Session("s1", protocol, Identity(user, frozenset(groups)), target, "127.0.0.1")


def action(text: str = "SELECT 1", kind: ActionKind = ActionKind.QUERY) -> Action:
    return Action(kind, text.encode(), text)


def cls(
    *cats: Category, objects: tuple[str, ...] = (), reasons: tuple[str, ...] = ()
) -> Classification:
    return Classification(("Stmt",), frozenset(cats), objects, reasons)


def decide(policy: Policy, c: Classification, **kw: Any) -> tuple[Decision, str]:
    text = kw.pop("text", "SELECT 1")
    kind = kw.pop("kind", ActionKind.QUERY)
    v = policy.evaluate(session(**kw), action(text, kind), c)
    return v.decision, v.rule


def rules(*rs: dict[str, Any], **top: Any) -> Policy:
    return load_policy({"rules": list(rs), **top})


# --- default policy ------------------------------------------------------------------------


@pytest.mark.parametrize("cat", [C.READ, C.WRITE, C.TRANSACTION, C.SESSION])
def test_default_allows_benign(cat: Category) -> None:
    assert decide(default_policy(), cls(cat)) == (Decision.ALLOW, BUILTIN_RULE)


@pytest.mark.parametrize("cat", sorted(set(Category) - {C.READ, C.WRITE, C.TRANSACTION, C.SESSION}))
def test_default_reviews_everything_else(cat: Category) -> None:
    assert decide(default_policy(), cls(C.READ, cat)) == (Decision.REVIEW, FALLBACK_RULE)


def test_default_allows_empty_query() -> None:
    empty = Classification((), frozenset())
    assert decide(default_policy(), empty) == (Decision.ALLOW, BUILTIN_RULE)


def test_default_equals_empty_config() -> None:
    assert decide(load_policy({}), cls(C.DDL))[0] is Decision.REVIEW
    assert decide(load_policy({}), cls(C.READ))[0] is Decision.ALLOW


def test_reason_names_categories_and_classifier_reasons() -> None:
    c = cls(C.PRIVILEGE, reasons=("GRANT on table public.t",))
    v = default_policy().evaluate(session(), action(), c)
    assert (
        v.reason == "categories privilege (GRANT on table public.t) need review (no rule matched)"
    )
    many = cls(C.DDL, reasons=tuple(f"r{i}" for i in range(8)))
    reason = default_policy().evaluate(session(), action(), many).reason
    assert "r4" in reason and "r5" not in reason and "and 3 more" in reason


def test_versions_bump_on_every_load() -> None:
    a, b = load_policy({}), load_policy({})
    assert b.version > a.version
    assert default_policy().version > b.version


# --- ordering and decisions ----------------------------------------------------------------


def test_first_match_wins() -> None:
    deny_drop = {"name": "deny-drop", "decision": "deny", "categories": ["destructive"]}
    allow_dba = {"name": "allow-all-dba", "decision": "allow", "groups": ["dba"]}
    p = rules(deny_drop, allow_dba)
    assert decide(p, cls(C.DESTRUCTIVE), groups=("dba",)) == (Decision.DENY, "deny-drop")
    assert decide(p, cls(C.DDL), groups=("dba",)) == (Decision.ALLOW, "allow-all-dba")
    swapped = rules(allow_dba, deny_drop)
    assert decide(swapped, cls(C.DESTRUCTIVE), groups=("dba",)) == (Decision.ALLOW, "allow-all-dba")
    assert decide(swapped, cls(C.DESTRUCTIVE)) == (Decision.DENY, "deny-drop")


def test_configured_rules_come_before_builtin() -> None:
    p = rules({"name": "no-reads-on-hr", "decision": "deny", "targets": ["hr-*"]})
    assert decide(p, cls(C.READ), target="hr-db") == (Decision.DENY, "no-reads-on-hr")
    assert decide(p, cls(C.READ), target="prod-db") == (Decision.ALLOW, BUILTIN_RULE)


def test_builtin_false_and_fallback() -> None:
    p = load_policy({"builtin": False})
    assert decide(p, cls(C.READ)) == (Decision.REVIEW, FALLBACK_RULE)
    p = load_policy({"fallback": "deny"})
    assert decide(p, cls(C.READ)) == (Decision.ALLOW, BUILTIN_RULE)
    assert decide(p, cls(C.DDL)) == (Decision.DENY, FALLBACK_RULE)


def test_allow_fallback_never_allows_unknown() -> None:
    p = load_policy({"fallback": "allow"})
    assert decide(p, cls(C.DDL)) == (Decision.ALLOW, FALLBACK_RULE)
    assert decide(p, cls(C.UNKNOWN)) == (Decision.REVIEW, FALLBACK_RULE)


def test_rule_message_prefixes_reason() -> None:
    p = rules({"name": "r", "decision": "deny", "categories": ["ddl"], "message": "ask #dba"})
    v = p.evaluate(session(), action(), cls(C.DDL))
    assert v.reason == "ask #dba: categories ddl denied"
    assert v.approvers == frozenset() and v.rule == "r"


# --- fail-closed category / object semantics ----------------------------------------------


def test_allow_needs_all_categories_within_rule() -> None:
    p = rules({"name": "reads", "decision": "allow", "categories": ["read", "export"]})
    assert decide(p, cls(C.READ, C.EXPORT)) == (Decision.ALLOW, "reads")
    assert decide(p, cls(C.EXPORT)) == (Decision.ALLOW, "reads")
    assert decide(p, cls(C.READ, C.PRIVILEGE)) == (Decision.REVIEW, FALLBACK_RULE)


def test_deny_and_review_match_any_overlap() -> None:
    p = rules(
        {"name": "d", "decision": "deny", "categories": ["privilege"]},
        {"name": "r", "decision": "review", "categories": ["export", "admin"]},
    )
    assert decide(p, cls(C.READ, C.PRIVILEGE)) == (Decision.DENY, "d")
    assert decide(p, cls(C.READ, C.ADMIN)) == (Decision.REVIEW, "r")
    assert decide(p, cls(C.READ)) == (Decision.ALLOW, BUILTIN_RULE)
    assert decide(p, Classification((), frozenset())) == (Decision.ALLOW, BUILTIN_RULE)


def test_unknown_never_allowed_by_accident() -> None:
    p = rules({"name": "dba-anything", "decision": "allow", "users": ["dba"]})
    assert decide(p, cls(C.DDL, C.PRIVILEGE), user="dba") == (Decision.ALLOW, "dba-anything")
    assert decide(p, cls(C.UNKNOWN), user="dba") == (Decision.REVIEW, FALLBACK_RULE)
    assert decide(p, cls(C.READ, C.UNKNOWN), user="dba")[0] is Decision.REVIEW
    every_known = [c.value for c in C if c != C.UNKNOWN]
    p = rules({"name": "wide", "decision": "allow", "categories": every_known})
    assert decide(p, cls(C.UNKNOWN)) == (Decision.REVIEW, FALLBACK_RULE)


def test_unknown_allowed_when_listed_explicitly() -> None:
    p = rules({"name": "yolo", "decision": "allow", "categories": ["unknown", "read"]})
    assert decide(p, cls(C.UNKNOWN, C.READ)) == (Decision.ALLOW, "yolo")


def test_allow_objects_needs_every_object_and_at_least_one() -> None:
    p = rules(
        {"name": "scratch", "decision": "allow", "categories": ["destructive", "ddl"],
         "objects": ["table:scratch.*"]},
    )  # fmt: skip
    assert decide(p, cls(C.DESTRUCTIVE, objects=("table:scratch.a",))) == (
        Decision.ALLOW,
        "scratch",
    )
    both = cls(C.DESTRUCTIVE, objects=("table:scratch.a", "table:public.users"))
    assert decide(p, both) == (Decision.REVIEW, FALLBACK_RULE)
    assert decide(p, cls(C.DESTRUCTIVE)) == (Decision.REVIEW, FALLBACK_RULE)


def test_deny_objects_match_any_object() -> None:
    p = rules({"name": "pii", "decision": "deny", "objects": ["table:*.ssn*", "path:/etc/shadow"]})
    mixed = cls(C.READ, objects=("table:public.orders", "table:hr.ssn_map"))
    assert decide(p, mixed) == (Decision.DENY, "pii")
    assert decide(p, cls(C.READ, objects=("path:/etc/shadow",))) == (Decision.DENY, "pii")
    assert decide(p, cls(C.READ, objects=("table:public.orders",)))[0] is Decision.ALLOW
    assert decide(p, cls(C.READ))[0] is Decision.ALLOW


# --- the other matchers ------------------------------------------------------------------


def test_protocols_and_kinds() -> None:
    p = rules(
        {"name": "ssh-only", "decision": "deny", "protocols": ["ssh"], "categories": ["read"]},
        {"name": "no-parse", "decision": "deny", "kinds": ["parse"]},
    )
    assert decide(p, cls(C.READ), protocol=WireProtocol.SSH) == (Decision.DENY, "ssh-only")
    assert decide(p, cls(C.READ))[0] is Decision.ALLOW
    assert decide(p, cls(C.READ), kind=ActionKind.PARSE) == (Decision.DENY, "no-parse")


def test_target_and_user_globs() -> None:
    p = rules(
        {"name": "bots-prod", "decision": "deny", "users": ["bot-*", "ci?"], "targets": ["prod-*"]}
    )
    assert decide(p, cls(C.READ), user="bot-7", target="prod-db") == (Decision.DENY, "bots-prod")
    assert decide(p, cls(C.READ), user="ci1", target="prod-x")[0] is Decision.DENY
    assert decide(p, cls(C.READ), user="ci12", target="prod-x")[0] is Decision.ALLOW
    assert decide(p, cls(C.READ), user="bot-7", target="staging")[0] is Decision.ALLOW
    assert decide(p, cls(C.READ), user="Bot-7", target="prod-db")[0] is Decision.ALLOW  # case


def test_groups_match_any_group() -> None:
    p = rules({"name": "contractors", "decision": "deny", "groups": ["contract*"]})
    assert decide(p, cls(C.READ), groups=("dev", "contractors"))[0] is Decision.DENY
    assert decide(p, cls(C.READ), groups=("dev",))[0] is Decision.ALLOW
    assert decide(p, cls(C.READ))[0] is Decision.ALLOW


def test_text_regex_is_searched() -> None:
    p = rules({"name": "no-pg-sleep", "decision": "deny", "text": r"(?i)\bpg_sleep\s*\("})
    assert decide(p, cls(C.READ), text="select PG_SLEEP (10)")[0] is Decision.DENY
    assert decide(p, cls(C.READ), text="select 1")[0] is Decision.ALLOW


def test_all_matchers_are_anded() -> None:
    p = rules({"name": "r", "decision": "deny", "users": ["a"], "targets": ["t"]})
    assert decide(p, cls(C.READ), user="a", target="t")[0] is Decision.DENY
    assert decide(p, cls(C.READ), user="a", target="u")[0] is Decision.ALLOW
    assert decide(p, cls(C.READ), user="b", target="t")[0] is Decision.ALLOW


# --- review parameters -----------------------------------------------------------------------


def test_review_parameters_parsed_into_verdict() -> None:
    p = rules(
        {"name": "two-dbas", "decision": "review", "categories": ["privilege"],
         "approvers": ["bob", "group:dba"], "quorum": 2, "timeout": 30, "mode": "retry"},
    )  # fmt: skip
    v = p.evaluate(session(), action(), cls(C.PRIVILEGE))
    assert (v.decision, v.rule) == (Decision.REVIEW, "two-dbas")
    assert v.approvers == frozenset({"bob", "group:dba"})
    assert (v.quorum, v.timeout_s, v.mode) == (2, 30.0, ReviewMode.RETRY)


def test_review_defaults_and_policy_level_defaults() -> None:
    v = default_policy().evaluate(session(), action(), cls(C.DDL))
    assert (v.approvers, v.quorum, v.timeout_s, v.mode) == (frozenset(), 1, 600.0, ReviewMode.HOLD)
    p = load_policy(
        {"approvers": ["group:oncall"], "timeout": 120.5, "mode": "retry",
         "rules": [{"name": "r", "decision": "review", "categories": ["ddl"], "quorum": 2}]}
    )  # fmt: skip
    v = p.evaluate(session(), action(), cls(C.DDL))
    assert (v.rule, v.approvers, v.quorum, v.timeout_s, v.mode) == (
        "r", frozenset({"group:oncall"}), 2, 120.5, ReviewMode.RETRY)  # fmt: skip
    v = p.evaluate(session(), action(), cls(C.ADMIN))
    assert (v.rule, v.approvers, v.quorum) == (FALLBACK_RULE, frozenset({"group:oncall"}), 1)


def test_allow_and_deny_verdicts_carry_no_review_parameters() -> None:
    p = load_policy({"approvers": ["bob"], "fallback": "deny"})
    v = p.evaluate(session(), action(), cls(C.DDL))
    assert v.decision is Decision.DENY and v.approvers == frozenset()


def test_lone_string_is_a_one_item_list() -> None:
    p = rules({"name": "r", "decision": "deny", "users": "mallory"})
    assert decide(p, cls(C.READ), user="mallory")[0] is Decision.DENY


# --- config errors name their key -----------------------------------------------------------


OK = {"name": "r", "decision": "deny"}

BAD: list[tuple[dict[str, Any], str]] = [
    ({"rules": {"name": "x"}}, "policy.rules"),
    ({"rules": [OK, "x"]}, "policy.rules[1]"),
    ({"rules": [{"decision": "deny"}]}, "policy.rules[0].name"),
    ({"rules": [{"name": 3, "decision": "deny"}]}, "policy.rules[0].name"),
    ({"rules": [{"name": " ", "decision": "deny"}]}, "policy.rules[0].name"),
    ({"rules": [OK, {"name": "r", "decision": "allow"}]}, "policy.rules[1].name"),
    ({"rules": [{"name": "fallback", "decision": "deny"}]}, "policy.rules[0].name"),
    ({"rules": [{"name": "builtin-x", "decision": "deny"}]}, "policy.rules[0].name"),
    ({"rules": [{"name": "r"}]}, "policy.rules[0].decision"),
    (
        {"rules": [OK, {**OK, "name": "p"}, {"name": "q", "decision": "block"}]},
        "policy.rules[2].decision",
    ),
    ({"rules": [{**OK, "decision": True}]}, "policy.rules[0].decision"),
    ({"rules": [{**OK, "colour": "red"}]}, "policy.rules[0].colour"),
    ({"rules": [{**OK, "categories": ["read", "reed"]}]}, "policy.rules[0].categories[1]"),
    ({"rules": [{**OK, "categories": []}]}, "policy.rules[0].categories"),
    ({"rules": [{**OK, "categories": 5}]}, "policy.rules[0].categories"),
    ({"rules": [{**OK, "protocols": ["mysql"]}]}, "policy.rules[0].protocols[0]"),
    ({"rules": [{**OK, "kinds": ["query", "fax"]}]}, "policy.rules[0].kinds[1]"),
    ({"rules": [{**OK, "targets": ["prod", ""]}]}, "policy.rules[0].targets[1]"),
    ({"rules": [{**OK, "users": [1]}]}, "policy.rules[0].users[0]"),
    ({"rules": [{**OK, "groups": ["[abc"]}]}, "policy.rules[0].groups[0]"),
    ({"rules": [{**OK, "objects": ["public.users"]}]}, "policy.rules[0].objects[0]"),
    ({"rules": [{**OK, "text": "(unclosed"}]}, "policy.rules[0].text"),
    ({"rules": [{**OK, "text": 7}]}, "policy.rules[0].text"),
    ({"rules": [{**OK, "message": 7}]}, "policy.rules[0].message"),
    ({"rules": [{**OK, "approvers": ["bob"]}]}, "policy.rules[0].approvers"),
    ({"rules": [{**OK, "decision": "allow", "timeout": 5}]}, "policy.rules[0].timeout"),
    ({"rules": [{"name": "v", "decision": "review", "quorum": 0}]}, "policy.rules[0].quorum"),
    ({"rules": [{"name": "v", "decision": "review", "quorum": 1.5}]}, "policy.rules[0].quorum"),
    ({"rules": [{"name": "v", "decision": "review", "quorum": True}]}, "policy.rules[0].quorum"),
    (
        {"rules": [{"name": "v", "decision": "review", "approvers": ["a"], "quorum": 2}]},
        "policy.rules[0].quorum",
    ),
    ({"rules": [{"name": "v", "decision": "review", "timeout": 0}]}, "policy.rules[0].timeout"),
    ({"rules": [{"name": "v", "decision": "review", "timeout": "1m"}]}, "policy.rules[0].timeout"),
    ({"rules": [{"name": "v", "decision": "review", "mode": "wait"}]}, "policy.rules[0].mode"),
    (
        {"rules": [{"name": "v", "decision": "review", "approvers": ["group:"]}]},
        "policy.rules[0].approvers[0]",
    ),
    ({"builtin": "yes"}, "policy.builtin"),
    ({"fallback": "maybe"}, "policy.fallback"),
    ({"default": "allow"}, "policy.default"),
    ({"timeout": -1}, "policy.timeout"),
    ({"quorum": 0}, "policy.quorum"),
    ({"mode": 1}, "policy.mode"),
]


@pytest.mark.parametrize(("raw", "key"), BAD, ids=[k for _, k in BAD])
def test_config_errors_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_policy(raw)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_policy_must_be_a_table() -> None:
    with pytest.raises(ConfigError) as info:
        load_policy(["x"])  # type: ignore[arg-type]
    assert info.value.key == "policy"


def test_parse_config_surfaces_policy_errors() -> None:
    from gateway.config import parse_config

    with pytest.raises(ConfigError) as info:
        parse_config({"policy": {"rules": [{"name": "r", "decision": "nope"}]}})
    assert info.value.key == "policy.rules[0].decision"


def test_a_realistic_policy_loads_and_decides() -> None:
    import tomllib

    raw = tomllib.loads(
        """
        [policy]
        fallback = "review"
        approvers = ["group:dba"]
        [[policy.rules]]
        name = "never-drop-prod"
        decision = "deny"
        targets = ["prod-*"]
        categories = ["destructive"]
        message = "use a migration"
        [[policy.rules]]
        name = "ci-reads-and-exports"
        decision = "allow"
        users = ["ci-*"]
        categories = ["read", "export", "session", "transaction"]
        [[policy.rules]]
        name = "grants-need-two"
        decision = "review"
        categories = ["privilege"]
        quorum = 2
        timeout = 900
        """
    )
    p = load_policy(raw["policy"])
    assert decide(p, cls(C.DESTRUCTIVE), target="prod-eu")[1] == "never-drop-prod"
    assert decide(p, cls(C.EXPORT), user="ci-7") == (Decision.ALLOW, "ci-reads-and-exports")
    v = p.evaluate(session(), action(), cls(C.PRIVILEGE))
    assert (v.rule, v.quorum, v.timeout_s, v.approvers) == (
        "grants-need-two", 2, 900.0, frozenset({"group:dba"}))  # fmt: skip


# --- properties over random policies ---------------------------------------------------------

KNOWN = sorted(c.value for c in C if c is not C.UNKNOWN)
rule_st = st.fixed_dictionaries(
    {"decision": st.sampled_from(["allow", "deny", "review"])},
    optional={
        "categories": st.lists(st.sampled_from(KNOWN), min_size=1, max_size=4),
        "users": st.lists(st.sampled_from(["alice", "a*", "*"]), min_size=1, max_size=2),
        "objects": st.lists(st.sampled_from(["table:*", "table:public.*", "*"]), min_size=1),
        "text": st.sampled_from(["", "SELECT", "(?i)drop"]),
    },
)
policy_st = st.builds(
    lambda rs, builtin, fallback: load_policy(
        {
            "builtin": builtin,
            "fallback": fallback,
            "rules": [{**r, "name": f"r{i}"} for i, r in enumerate(rs)],
        }
    ),
    st.lists(rule_st, max_size=5),
    st.booleans(),
    st.sampled_from(["allow", "deny", "review"]),
)
cls_st = st.builds(
    lambda cats, objs: Classification(("S",), frozenset(cats), tuple(objs)),
    st.sets(st.sampled_from(list(C))),
    st.lists(st.sampled_from(["table:public.t", "table:hr.pay", "path:/etc/shadow"]), max_size=3),
)


@given(policy_st, cls_st, st.sampled_from(["SELECT 1", "drop table t"]))
def test_unknown_is_never_allowed_unless_listed(p: Policy, c: Classification, text: str) -> None:
    c = Classification(c.statements, c.categories | {C.UNKNOWN}, c.objects)
    assert p.evaluate(session(), action(text), c).decision is not Decision.ALLOW


@given(policy_st, cls_st)
def test_allow_by_a_category_rule_implies_all_categories_listed(
    p: Policy, c: Classification
) -> None:
    v = p.evaluate(session(), action(), c)
    rule = next((r for r in p.rules if r.name == v.rule), None)
    if v.decision is Decision.ALLOW and rule is not None and rule.categories is not None:
        assert c.categories <= rule.categories
    if v.decision is Decision.ALLOW and rule is None:
        assert v.rule == FALLBACK_RULE or c.categories <= {
            C.READ,
            C.WRITE,
            C.TRANSACTION,
            C.SESSION,
        }
