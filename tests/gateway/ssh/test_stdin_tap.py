"""StdinTap: exec stdin reaches the transcript in pieces the redactor can read whole."""

from __future__ import annotations

from gateway.recording.redact import Redactor
from gateway.ssh.channel import StdinTap


def recorded(chunks: list[bytes]) -> list[str]:
    tap = StdinTap()
    redactor = Redactor()
    events = [tap.feed(c) for c in chunks] + [tap.rest()]
    return [redactor.redact_text(e.decode()) for e in events if e]


def test_a_secret_split_between_packets_is_redacted() -> None:
    events = recorded([b"hello\npassw", b"ord=Spl1tS3cret\nbye\n"])
    assert "Spl1tS3cret" not in "".join(events)
    assert "hello" in events[0] and "bye" in "".join(events)


def test_a_private_key_block_waits_for_its_end() -> None:
    body = [b"QUJD" * 16 + b"\n"] * 4
    events = recorded(
        [b"-----BEGIN RSA PRIVATE KEY-----\n", *body, b"-----END RSA PRIVATE KEY-----\n"]
    )
    assert len(events) == 1 and "QUJD" not in events[0]


def test_what_is_held_is_bounded() -> None:
    tap = StdinTap()
    assert tap.feed(b"x" * 100) == b""
    assert len(tap.feed(b"y" * StdinTap.HOLD)) == StdinTap.HOLD + 100
    assert tap.rest() == b""
