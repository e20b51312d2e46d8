"""The audit log: one structured line per security-relevant event, for people and SIEMs.

Transcripts say what happened inside a session; this says who came, who was refused, which
requests were decided by whom, and when the configuration changed, in one stream an
operator can follow (``journalctl -u airlock | grep '"audit"'``) or ship to a SIEM
(``[audit] file`` / ``syslog``). Every line goes through the ``airlock.audit`` logger, so it
has the daemon's JSON line format (and its redaction) on stderr, plus ``"audit": true``,
``"event"`` and the event's fields.

Never pass a secret as a field: callers give names, addresses, ids and reasons only. As a
second line of defence the field names that would carry one are refused outright.
"""

from __future__ import annotations

import logging
import logging.handlers
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config_table import ConfigError

if TYPE_CHECKING:
    from gateway.model import Session


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """Where audit lines go besides stderr ([audit] file / syslog in the config)."""

    file: Path | None = None
    syslog: str = ""


log = logging.getLogger("airlock.audit")


class Event(StrEnum):
    LOGIN_OK = "login.ok"
    LOGIN_FAILED = "login.failed"
    SESSION_START = "session.start"
    SESSION_END = "session.end"
    REQUEST_CREATED = "request.created"
    REQUEST_APPROVED = "request.approved"
    REQUEST_DENIED = "request.denied"
    REQUEST_EXPIRED = "request.expired"
    REQUEST_WITHDRAWN = "request.withdrawn"
    SELF_APPROVAL = "request.self_approval"
    UPSTREAM_FAILED = "upstream.failed"
    RELOAD_OK = "config.reloaded"
    RELOAD_REJECTED = "config.reload_rejected"


#: Field names that would carry a secret; an emit with one is a programming error.
_SECRET_FIELDS = frozenset({"password", "token", "secret", "passwd", "key", "credentials"})
#: LogRecord attributes an ``extra`` may not overwrite (logging raises KeyError).
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}

Field = str | int | float | bool | None | Sequence[str]


def emit(event: Event, /, **fields: Field) -> None:
    """Write one audit line: ``{"event": ..., "audit": true, ...fields}``."""
    bad = _SECRET_FIELDS.intersection(fields) | _RESERVED.intersection(fields)
    if bad:
        raise ValueError(f"audit field name not allowed: {sorted(bad)}")
    extra: dict[str, object] = {
        k: ([str(x) for x in v] if isinstance(v, Sequence) and not isinstance(v, str) else v)
        for k, v in fields.items()
    }
    extra["event"] = event.value
    extra["audit"] = True
    log.info(event.value, extra=extra)


def session_fields(session: Session) -> dict[str, Field]:
    """The fields every session line carries: which session, whose, where from, to where."""
    return {
        "session": session.id,
        "protocol": session.protocol.value,
        "user": session.identity.user,
        "method": session.identity.source,
        "source": session.client_addr,
        "target": session.target,
        "agent": session.agent,
        "reason": session.reason,
    }


class _AuditHandler:
    """Marks handlers this module installed, so a reconfigure replaces rather than adds."""


class _AuditFile(logging.handlers.WatchedFileHandler, _AuditHandler):
    """Reopens the file when logrotate moves it."""


class _AuditSyslog(logging.handlers.SysLogHandler, _AuditHandler):
    pass


def syslog_address(value: str) -> tuple[str | tuple[str, int], socket.SocketKind]:
    """``/dev/log`` (a Unix socket path), ``udp:HOST:PORT`` or ``tcp:HOST:PORT``."""
    if value.startswith("/"):
        return value, socket.SOCK_DGRAM
    scheme, _, rest = value.partition(":")
    host, _, port = rest.rpartition(":")
    if scheme not in ("udp", "tcp") or not host or not port.isdigit():
        raise ValueError("must be a socket path (/dev/log), udp:HOST:PORT or tcp:HOST:PORT")
    if not 0 < int(port) < 65536:
        raise ValueError(f"port must be 1-65535, got {port}")
    kind = socket.SOCK_DGRAM if scheme == "udp" else socket.SOCK_STREAM
    return (host.strip("[]"), int(port)), kind


def configure(settings: AuditSettings, formatter: logging.Formatter) -> None:
    """Install the optional file and syslog sinks (stderr gets audit lines regardless).

    Called at start and on reload; a sink that cannot be opened is a ConfigError naming
    its key (at start the daemon does not run; on reload the old sinks stay).
    """

    handlers: list[logging.Handler] = []
    if settings.file is not None:
        try:
            settings.file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(_AuditFile(settings.file, encoding="utf-8"))
        except OSError as exc:
            problem = f"cannot open {settings.file}: {exc.strerror}"
            raise ConfigError("audit.file", problem) from None
    if settings.syslog:
        address, kind = syslog_address(settings.syslog)
        try:
            syslog = _AuditSyslog(address, socktype=kind)
        except OSError as exc:
            for handler in handlers:
                handler.close()
            raise ConfigError("audit.syslog", f"cannot reach {settings.syslog}: {exc}") from None
        syslog.ident = "airlock: "
        syslog.append_nul = False  # a SIEM parses the JSON after the tag
        handlers.append(syslog)
    for old in [h for h in log.handlers if isinstance(h, _AuditHandler)]:
        log.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.INFO)
