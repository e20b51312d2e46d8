"""gateway/postgres/startup.py: `options` parsing and which startup settings pass.

(Pure code in gateway/; tested here next to the wire tests it completes.)
"""

from __future__ import annotations

import pytest

from gateway.postgres.startup import StartupRefused, parse_options, resolve, split_options


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("", []),
        ("   ", []),
        ("-c a=b", ["-c", "a=b"]),
        ("  -c\ta=b \n -cx=y ", ["-c", "a=b", "-cx=y"]),
        (r"-c airlock.reason=rotate\ keys", ["-c", "airlock.reason=rotate keys"]),
        (r"-c a=back\\slash", ["-c", r"a=back\slash"]),
        ("-c a=trailing\\", ["-c", "a=trailing"]),  # a lone trailing backslash escapes nothing
    ],
)
def test_split_options(options: str, words: list[str]) -> None:
    assert split_options(options) == words


@pytest.mark.parametrize(
    ("options", "settings"),
    [
        ("-c a=b", {"a": "b"}),
        ("-ca=b", {"a": "b"}),
        ("--a-b=c", {"a_b": "c"}),
        ("-c statement-timeout=5", {"statement_timeout": "5"}),
        ("-c a=", {"a": ""}),
        ("-c a=x=y", {"a": "x=y"}),
        ("-c a=1 -c a=2", {"a": "2"}),
        (r"-c airlock.reason=two\ words -cb=1", {"airlock.reason": "two words", "b": "1"}),
    ],
)
def test_parse_options(options: str, settings: dict[str, str]) -> None:
    assert parse_options(options) == settings


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ("-c", "'-c' is not allowed"),  # -c with nothing after it
        ("-d 5", "'-d' is not allowed"),
        ("-B 100", "not allowed"),
        ("foo", "not allowed"),
        ("-c a", "must be name=value"),
        ("-c =b", "must be name=value"),
        ("--", "must be name=value"),
    ],
)
def test_parse_options_refused(options: str, error: str) -> None:
    with pytest.raises(StartupRefused, match=error) as info:
        parse_options(options)
    assert info.value.sqlstate == "42501"


def test_resolve_passes_harmless_settings_and_strips_the_reason() -> None:
    settings = resolve(
        {
            "user": "alice",
            "database": "main",
            "application_name": "agent-7",
            "options": r"-c airlock.reason=rotate\ keys -c statement_timeout=5000 --DateStyle=ISO",
            "replication": "false",
        }
    )
    assert settings.upstream == {
        "application_name": "agent-7",
        "statement_timeout": "5000",
        "DateStyle": "ISO",
    }
    assert settings.reason == "rotate keys"
    assert settings.application_name == "agent-7"
    assert settings.lexing.modelable


def test_resolve_defaults() -> None:
    settings = resolve({"user": "a"})
    assert (settings.upstream, settings.reason, settings.application_name) == ({}, "", "")


@pytest.mark.parametrize("value", ["on", "ON", " true ", "yes", "1"])
def test_standard_conforming_strings_on_passes(value: str) -> None:
    assert resolve({"standard_conforming_strings": value}).upstream == {
        "standard_conforming_strings": value
    }


@pytest.mark.parametrize("value", ["off", "false", "0", ""])
def test_standard_conforming_strings_off_refused(value: str) -> None:
    with pytest.raises(StartupRefused, match="standard_conforming_strings=off"):
        resolve({"options": f"-c standard_conforming_strings={value}"})


def test_client_encoding_utf8_passes_and_sets_lexing() -> None:
    settings = resolve({"client_encoding": "UTF8"})
    assert settings.upstream == {"client_encoding": "UTF8"}
    assert settings.lexing.modelable


@pytest.mark.parametrize("encoding", ["SJIS", "BIG5", "GBK", "LATIN1"])
def test_client_encoding_unmodelable_is_left_to_policy(encoding: str) -> None:
    """Not refused here: the listener puts it to policy as the SET it amounts to; until
    then the upstream speaks UTF-8 and the state the classifier models holds."""
    settings = resolve({"options": f"-c client_encoding={encoding}"})
    assert settings.encoding == encoding
    assert settings.upstream == {"client_encoding": "UTF8"}
    assert settings.lexing.modelable


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ("-c airlock.reason=rotate keys", "rotate keys"),
        ("-c airlock.reason=rotate  keys now -c timezone=UTC", "rotate keys now"),
        ("--airlock.reason=a b", "a b"),
        (r"-c airlock.reason=rotate\ keys", "rotate keys"),
    ],
)
def test_the_reason_takes_the_words_up_to_the_next_option(options: str, reason: str) -> None:
    assert resolve({"options": options}).reason == reason


@pytest.mark.parametrize(
    "params",
    [
        {"options": "-c role=postgres"},
        {"options": "-c session_authorization=postgres"},
        {"options": "--session-replication-role=replica"},
        {"session_replication_role": "replica"},
        {"role": "postgres"},
        {"_pq_.something": "1"},
    ],
)
def test_dangerous_settings_refused(params: dict[str, str]) -> None:
    with pytest.raises(StartupRefused, match="not allowed through Airlock") as info:
        resolve(params)
    assert info.value.sqlstate == "42501"


@pytest.mark.parametrize("value", ["true", "database", "on", "1"])
def test_replication_refused(value: str) -> None:
    with pytest.raises(StartupRefused, match="replication") as info:
        resolve({"replication": value})
    assert info.value.sqlstate == "0A000"


@pytest.mark.parametrize("value", ["false", "off", "0", "no", "OFF"])
def test_replication_off_is_fine(value: str) -> None:
    assert resolve({"replication": value}).upstream == {}


def test_option_names_are_matched_case_insensitively() -> None:
    assert resolve({"options": "-c TimeZone=UTC"}).upstream == {"TimeZone": "UTC"}
    with pytest.raises(StartupRefused):
        resolve({"options": "-c ROLE=postgres"})
    with pytest.raises(StartupRefused, match="standard_conforming_strings=off"):
        resolve({"Standard_Conforming_Strings": "off"})


@pytest.mark.parametrize(
    "params",
    [
        {"search_path": "public, pg_catalog"},
        {"options": r"-c search_path=app,pg_catalog"},
        {"options": r"-c search_path=public,\ pg_catalog"},
    ],
)
def test_search_path_shadowing_builtins_refused(params: dict[str, str]) -> None:
    """As with SET (where it is `unknown`): pg_catalog after another schema lets a user's
    operator or function named like a built-in win over it."""
    with pytest.raises(StartupRefused, match="search_path"):
        resolve(params)


@pytest.mark.parametrize(
    "value", ["public", "app, public", '"$user", public', "pg_catalog, public"]
)
def test_ordinary_search_path_passes(value: str) -> None:
    assert resolve({"search_path": value}).upstream == {"search_path": value}
