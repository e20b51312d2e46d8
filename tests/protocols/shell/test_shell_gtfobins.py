"""GTFOBins as a test corpus: what a known program can be made to do must not pass.

The data is read from ``../shared/data/gtfobins/_gtfobins`` beside the repository at test
time (never copied into the project); under ``CI=true`` its absence is a failure.

For every binary the classifier *knows* (it has a table entry or an argument-aware
handler, i.e. ``run_argv`` does not call it unknown), with aliases (``awk: alias: mawk``)
tested under the alias's own name:

- ``shell``, ``command``, ``reverse-shell``, ``bind-shell``, ``library-load``: the snippet
  run as one script is not allowed by the default policy, and neither is every one of its
  lines typed one by one (an interactive session checks line by line);
- ``upload``, ``download``, ``file-write``: the same, with the placeholders made concrete
  the dangerous way: the input file is a secret (``/etc/shadow``...), the output file a
  sensitive destination (``~/.ssh/authorized_keys``, ``~/.bashrc``). Snippets whose only
  payload is the literal placeholder ``DATA`` sent to a host are listed in
  ``LITERAL_PAYLOAD`` (an HTTP POST of text the agent typed is ``write`` by design);
- ``file-read`` with its input replaced by a secret path: ``export``, unless the program
  is opaque (``code``/``unknown``: reviewed anyway, the gateway cannot see what it reads);
- ``inherit`` snippets (the way in to another binary's functions, e.g. a pager): not
  allowed when that binary has a function above, except the pagers listed in
  ``INTERACTIVE_ONLY`` (their escape is typed inside a full-screen program: README's
  honest limits).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gateway.cli_check import Checker
from gateway.model import Decision, WireProtocol
from gateway.policy import default_policy
from protocols.classification import Category
from protocols.shell import classify_shell
from protocols.shell.walker import is_known

try:
    import yaml
except ImportError:  # the ``test`` extra installs it; under CI its absence fails below
    yaml = None

C = Category
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gtfobins" / "_gtfobins"
FLAGGED = ("shell", "command", "reverse-shell", "bind-shell", "library-load")
CONCRETE = ("upload", "download", "file-write")
SECRETS = ("~/.ssh/id_rsa", "/etc/shadow", "~/.aws/credentials")
DESTINATIONS = ("~/.ssh/authorized_keys", "~/.bashrc")
#: (binary, function, snippet prefix): text the agent typed, posted to a host, is ``write``
#: by design; the test posts a secret file the same way instead.
LITERAL_PAYLOAD = {
    ("curl", "upload", "curl -X POST --data-binary DATA"): ("DATA", "@/etc/shadow"),
    ("wget", "upload", "wget --post-data=DATA"): ("--post-data=DATA", "--post-file=/etc/shadow"),
}
#: Snippets whose output is named by other words than the placeholder path.
OUTPUT_WORDS = {
    ("split", "file-write"): (" prefix", " ~/.ssh/authorized_keys"),
    ("csplit", "file-write"): ("%doutput-file", "%d/../.ssh/authorized_keys"),
}
#: Programs whose inherited functions are reached by keys typed inside them.
INTERACTIVE_ONLY = frozenset({"less", "more", "vi", "ed", "cat"})


def _present() -> bool:
    if DATA.is_dir() and yaml is not None:
        return True
    if os.environ.get("CI") == "true":
        pytest.fail(f"GTFOBins data at {DATA} or PyYAML missing (CI=true: that is a failure)")
    return False


@cache
def _load(name: str) -> dict[str, Any]:
    doc = next(yaml.safe_load_all((DATA / name).read_text()), None)
    return doc if isinstance(doc, dict) else {}


def _entries() -> list[tuple[str, str, str]]:
    """(binary, function, code) for every binary the classifier knows."""
    if not DATA.is_dir() or yaml is None:
        return []
    out = []
    for path in sorted(DATA.iterdir()):
        name = path.name
        if not is_known(name):
            continue
        doc, source = _load(name), name
        if "alias" in doc:
            source = doc["alias"]
            doc = _load(source)
        for function, techniques in (doc.get("functions") or {}).items():
            for technique in techniques or ():
                # The technique, and the variants some contexts spell differently (sudo).
                codes = [technique["code"]]
                for context in (technique.get("contexts") or {}).values():
                    if isinstance(context, dict) and context.get("code"):
                        codes.append(context["code"])
                for code in dict.fromkeys(codes):
                    if source != name:  # the alias's own name runs the same program
                        code = re.sub(rf"(?<![\w/.-]){re.escape(source)}(?![\w.-])", name, code)
                    out.append((name, function, code))
    return out


ENTRIES = _entries()


CHECKER = Checker(default_policy(), {})


def _allowed(text: str) -> bool:
    """What ``airlock check --protocol ssh`` with no config says."""
    _, verdict = CHECKER.check(WireProtocol.SSH, text, "agent", (), "target")
    return verdict.decision is Decision.ALLOW


def _flagged(code: str) -> bool:
    lines = [line for line in code.splitlines() if line.strip()]
    return not _allowed(code) and not all(_allowed(line) for line in lines)


def _cases(functions: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [e for e in ENTRIES if e[1] in functions]


def test_the_corpus_is_there_and_big() -> None:
    if not _present():
        pytest.skip("GTFOBins data not found beside the repository")
    assert len(ENTRIES) > 500
    assert {"tar", "sort", "sed", "awk", "zip", "man"} <= {e[0] for e in ENTRIES}


@pytest.mark.parametrize(("name", "function", "code"), _cases(FLAGGED), ids=repr)
def test_running_a_program_is_never_allowed(name: str, function: str, code: str) -> None:
    assert _flagged(code), (name, function, code, classify_shell(code))


@pytest.mark.parametrize(("name", "function", "code"), _cases(CONCRETE), ids=repr)
def test_moving_files_is_never_allowed(name: str, function: str, code: str) -> None:
    for (n, f, prefix), (old, new) in LITERAL_PAYLOAD.items():
        if (name, function) == (n, f) and code.startswith(prefix):
            assert not _allowed(code.replace(old, new, 1)), code.replace(old, new, 1)
            return
    if (name, function) in OUTPUT_WORDS:
        code = code.replace(*OUTPUT_WORDS[name, function])
    variants = {
        code.replace("/path/to/input-file", secret).replace("/path/to/output-file", dest)
        for secret in SECRETS
        for dest in DESTINATIONS
    }
    if function == "file-write" and "/path/to/output-file" not in code:
        # ``gcc -x c /dev/null -o /path/to/input-file`` writes its "input" placeholder
        variants |= {code.replace("/path/to/input-file", dest) for dest in DESTINATIONS}
    for variant in sorted(variants):
        assert _flagged(variant), (name, function, variant, classify_shell(variant))


#: Reads of the placeholder plus a suffix (``input-file.pub``) read another file, not the
#: secret the placeholder stands for: left out of the cases (not skipped).
_READS = [
    case for case in _cases(("file-read",)) if not re.search(r"/path/to/input-file[\w.]", case[2])
]


@pytest.mark.parametrize(("name", "function", "code"), _READS, ids=repr)
def test_reading_a_secret_is_export(name: str, function: str, code: str) -> None:
    for secret in SECRETS:
        text = code.replace("/path/to/input-file", secret).replace("/path/to/input-dir", "~/.ssh")
        result = classify_shell(text)
        assert not _allowed(text), (text, result)
        opaque = {C.CODE, C.UNKNOWN} & result.categories
        assert C.EXPORT in result.categories or opaque, (text, result)


@pytest.mark.parametrize(("name", "function", "code"), _cases(("inherit",)), ids=repr)
def test_the_way_into_another_program_is_flagged(name: str, function: str, code: str) -> None:
    doc = _load(name)
    if "alias" in doc:
        doc = _load(doc["alias"])
    for technique in doc["functions"]["inherit"]:
        if technique["code"] == code and technique.get("from") not in INTERACTIVE_ONLY:
            assert _flagged(code), (name, technique.get("from"), code, classify_shell(code))
