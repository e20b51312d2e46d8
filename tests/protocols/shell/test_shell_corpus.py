"""The labeled shell corpus: every flag case flags, (almost) every allow case is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocols.classification import Category
from protocols.shell import classify_shell

CORPUS = Path(__file__).parents[2] / "corpus" / "shell_corpus.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def test_corpus_is_big_and_covers_every_shell_category() -> None:
    assert len(CASES) >= 120
    flagged = [c for c in CASES if c["expect"] == "flag"]
    allowed = [c for c in CASES if c["expect"] == "allow"]
    assert len(flagged) >= 100 and len(allowed) >= 100
    covered = {cat for c in flagged for cat in c.get("categories", [])}
    wanted = {
        Category.DESTRUCTIVE, Category.PRIVILEGE, Category.ADMIN, Category.CODE,
        Category.TAMPER, Category.EXPORT, Category.FORWARDING, Category.FILE_TRANSFER,
        Category.UNKNOWN,
    }  # fmt: skip
    assert wanted <= covered


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"] == "flag"], ids=repr)
def test_flagged_case_is_never_allowed(case: dict[str, Any]) -> None:
    result = classify_shell(case["text"])
    assert not result.benign, result
    missing = set(case.get("categories", [])) - set(result.categories)
    assert not missing, (missing, result)


def test_allowed_cases_are_rarely_flagged() -> None:
    allowed = [c for c in CASES if c["expect"] == "allow"]
    wrong = [c["text"] for c in allowed if not classify_shell(c["text"]).benign]
    assert len(wrong) <= 0.02 * len(allowed), wrong
