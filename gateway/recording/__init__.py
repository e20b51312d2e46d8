"""Tamper-evident, redacted session transcripts: write, verify, read, replay, prune.

See docs/transcripts.md for the format.
"""

from gateway.recording.redact import Redactor
from gateway.recording.verify import VerifyReport, verify_all, verify_session
from gateway.recording.writer import (
    Durability,
    Recorder,
    RecorderError,
    RowSampler,
    TranscriptWriter,
)

__all__ = [
    "Durability",
    "Recorder",
    "RecorderError",
    "Redactor",
    "RowSampler",
    "TranscriptWriter",
    "VerifyReport",
    "verify_all",
    "verify_session",
]
