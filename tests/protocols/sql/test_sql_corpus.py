"""The labeled corpus: every flag case is flagged, at most 2% of allow cases are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocols.classification import Category
from protocols.sql import classify_sql

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "sql_corpus.jsonl"


def load() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CASES = load()


def test_corpus_size_and_coverage() -> None:
    assert len(CASES) >= 220
    must = {c for case in CASES if case["expect"] == "flag" for c in case.get("categories", [])}
    wanted = {
        Category.EXPORT,
        Category.PRIVILEGE,
        Category.DESTRUCTIVE,
        Category.ADMIN,
        Category.CODE,
        Category.TAMPER,
        Category.UNKNOWN,
        Category.DDL,
    }
    assert {c.value for c in wanted} <= must


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"] == "flag"], ids=repr)
def test_flag_cases_are_flagged(case: dict[str, Any]) -> None:
    result = classify_sql(case["text"])
    assert not result.benign, result
    got = {c.value for c in result.categories}
    assert set(case.get("categories", [])) <= got, result
    assert result.reasons, "every flagged result says why"


def test_allowed_cases_rarely_flagged() -> None:
    allowed = [c for c in CASES if c["expect"] == "allow"]
    flagged = [c["text"] for c in allowed if not classify_sql(c["text"]).benign]
    assert len(flagged) <= 0.02 * len(allowed), flagged


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["expect"] == "allow" and c.get("categories")], ids=repr
)
def test_allowed_cases_have_their_categories(case: dict[str, Any]) -> None:
    got = {c.value for c in classify_sql(case["text"]).categories}
    assert set(case["categories"]) <= got
