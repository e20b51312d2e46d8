"""Postgres listener: TLS, startup, client authentication, routing, then the relay.

The startup phase uses streams (clear sequential code, bounded by one timeout); once the
session is established both transports are handed to the callback-based relay.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway import audit, metrics, telling
from gateway.audit import Event, session_fields
from gateway.checkpoint import Checkpoint, SessionContext
from gateway.config import Config, Target, is_loopback
from gateway.identity.authenticator import Authenticator
from gateway.identity.sessions import SessionRegistry
from gateway.limits import ConnectionLimiter
from gateway.model import Action, ActionKind, Identity, Session, SessionStats, WireProtocol
from gateway.postgres import upstream as up
from gateway.postgres.relay import PgRelay
from gateway.postgres.startup import StartupRefused, resolve
from gateway.postgres.tlswrite import client_writer
from gateway.recording.writer import TranscriptFactory, TranscriptWriter
from gateway.store.base import SessionRow, Store
from protocols.pgwire import messages as m
from protocols.pgwire.auth import AuthFailed, ScramKeys, ScramServerExchange, mock_keys
from protocols.sql import LexingState

log = logging.getLogger("airlock.postgres")


class ClientError(Exception):
    """Ends the startup phase with an ErrorResponse carrying this message and SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(slots=True)
class _Live:
    target: Target
    upstream_pid: int
    upstream_secret: int
    relay: PgRelay


class PostgresGateway:
    def __init__(
        self,
        config: Config,
        authenticator: Authenticator,
        checkpoint: Checkpoint,
        store: Store,
        recorder_factory: TranscriptFactory | None = None,
        tls: ssl.SSLContext | None = None,
        limiter: ConnectionLimiter | None = None,
        sessions: SessionRegistry | None = None,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.checkpoint = checkpoint
        self.store = store
        self.recorder_factory = recorder_factory
        self.tls = tls
        self.limiter = limiter
        self.sessions = sessions
        self.server: asyncio.Server | None = None
        self.live: dict[tuple[int, int], _Live] = {}
        self.handlers: set[asyncio.Task[None]] = set()
        self._mock_secret = secrets.token_bytes(32)

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._accept, host, port, limit=1 << 20)
        return int(self.server.sockets[0].getsockname()[1])

    def stop_accepting(self) -> None:
        """Drain: close the listening socket; connections already accepted carry on."""
        if self.server is not None:
            self.server.close()

    async def drained(self) -> None:
        """Return once every accepted connection has ended (its transcript closed)."""
        while self.handlers:
            await asyncio.wait(set(self.handlers))

    def end_sessions(self, text: str) -> int:
        """Drain deadline: end every live session with a FATAL 57P01 (admin_shutdown).

        Returns how many were ended; their handlers then close and sign the transcripts.
        """
        lives = list(self.live.values())
        for live in lives:
            live.relay.fail_client("57P01", text)
        return len(lives)

    async def close(self) -> None:
        self.stop_accepting()
        for task in list(self.handlers):
            task.cancel()
        if self.handlers:
            await asyncio.gather(*self.handlers, return_exceptions=True)

    def reconfigure(self, config: Config, authenticator: Authenticator) -> None:
        self.config, self.authenticator = config, authenticator

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            pass  # gateway shutdown
        except Exception:
            log.exception("postgres session failed")
        finally:
            self.handlers.discard(task)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        client_addr = f"{peer[0]}:{peer[1]}"
        settings = self.config.postgres
        try:
            async with asyncio.timeout(settings.startup_timeout_s):
                startup, tls = await self._negotiate(reader, writer)
                if startup is None:
                    return
                established = await self._establish(
                    reader, writer, startup, tls, peer[0], client_addr
                )
        except TimeoutError:
            metrics.rejected("startup-timeout")
            writer.write(m.error_response("08P01", "airlock: startup timed out", "FATAL"))
            return
        except ClientError as exc:
            writer.write(m.error_response(exc.sqlstate, str(exc), "FATAL"))
            return
        except m.ProtocolError as exc:
            writer.write(m.error_response(exc.sqlstate, f"airlock: {exc}", "FATAL"))
            return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        if established is not None:
            await self._relay(reader, writer, *established)

    async def _negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[m.StartupMessage | None, bool]:
        tls = False
        while True:
            header = await reader.readexactly(4)
            length = m.startup_length(header)
            packet = m.parse_startup(header + await reader.readexactly(length - 4))
            if isinstance(packet, m.SslRequest):
                if tls:
                    raise m.ProtocolError("SSLRequest inside TLS")
                if self.tls is None:
                    writer.write(b"N")
                    continue
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.tls)
                tls = True
            elif isinstance(packet, m.GssEncRequest):
                writer.write(b"N")
            elif isinstance(packet, m.CancelRequest):
                await self._cancel(packet)
                return None, tls
            else:
                return packet, tls

    async def _cancel(self, request: m.CancelRequest) -> None:
        live = self.live.get((request.pid, request.secret))
        if live is None:
            return  # like the server: unknown keys are ignored silently
        if live.relay.cancel_hold():
            return
        await up.send_cancel(live.target, live.upstream_pid, live.upstream_secret)

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        user: str,
        cleartext_ok: bool,
    ) -> Identity | None:
        candidates = await self.authenticator.scram_candidates(user)
        if candidates is None and cleartext_ok:
            writer.write(m.auth_cleartext())
            kind, msg = await _read_client_message(reader)
            if kind != ord("p"):
                raise ClientError("airlock: expected a password message", "08P01")
            password = m.parse_password(msg).rstrip(b"\0").decode("utf-8", "replace")
            return await self.authenticator.check_password(user, password)
        keys = (
            [
                ScramKeys(v.salt, v.stored_key, v.server_key, v.iterations)
                for v, _ in candidates.verifiers
            ]
            if candidates is not None
            else [mock_keys(self._mock_secret, user)]
        )
        exchange = ScramServerExchange(keys, secrets.token_urlsafe(18))
        writer.write(m.auth_sasl(["SCRAM-SHA-256"]))
        kind, msg = await _read_client_message(reader)
        if kind != ord("p"):
            raise ClientError("airlock: expected SASLInitialResponse", "08P01")
        mechanism, first = m.parse_sasl_initial(msg)
        writer.write(m.auth_sasl_continue(exchange.server_first(mechanism, first)))
        kind, msg = await _read_client_message(reader)
        if kind != ord("p"):
            raise ClientError("airlock: expected SASLResponse", "08P01")
        try:
            final = exchange.server_final(m.parse_password(msg))
        except AuthFailed:
            return None
        if candidates is None or exchange.matched is None:
            return None
        writer.write(m.auth_sasl_final(final))
        token_id = candidates.verifiers[exchange.matched][1]
        identity = candidates.identity
        if token_id is not None:
            identity = Identity(identity.user, identity.groups, "token", identity.person, token_id)
        return identity

    async def _establish(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        startup: m.StartupMessage,
        tls: bool,
        peer_host: str,
        client_addr: str,
    ) -> tuple[Session, up.Upstream, SessionContext, str] | None:
        settings = self.config.postgres
        params = startup.params
        user = params.get("user", "")
        database = params.get("database", user)
        if not user:
            raise ClientError("airlock: no user name in the startup packet", "28000")
        try:
            startup_settings = resolve(params)
        except StartupRefused as exc:
            raise ClientError(f"airlock: {exc}", exc.sqlstate) from None
        if settings.require_tls and not tls:
            raise ClientError("airlock: this gateway requires TLS (sslmode=require)", "28000")
        if startup.version & 0xFFFF:
            # A client asking for 3.x (x > 0): say we speak 3.0, as the server itself does.
            writer.write(m.negotiate_protocol_version(0, []))
        cleartext_ok = tls or (settings.cleartext_on_loopback and is_loopback(peer_host))
        # The failed-login throttle HTTP and SSH share (per user, per address): a blocked
        # login is refused before any exchange, so guessing learns nothing more.
        throttle = self.authenticator.throttle
        wait = throttle.attempt(user, peer_host)  # counts as a failure until it succeeds
        if wait > 0:
            metrics.rejected("login-throttled")
            raise ClientError(
                f"airlock: too many failed logins for this user or address; "
                f"retry in {math.ceil(wait)} s",
                "28000",
            )
        started = time.monotonic()
        try:
            identity = await self._authenticate(reader, writer, user, cleartext_ok)
        except BaseException:  # the client left or broke the exchange before an answer
            throttle.abandoned(user, peer_host)
            raise
        audit.emit(
            Event.LOGIN_OK if identity is not None else Event.LOGIN_FAILED,
            protocol="postgres",
            user=user,
            source=client_addr,
            method=identity.source if identity is not None else "",
            target=database,
        )
        if identity is None:
            # Same error, same delay, for an unknown user and a wrong password.
            await asyncio.sleep(
                max(0.0, settings.auth_failure_delay_s - (time.monotonic() - started))
            )
            raise ClientError(f'password authentication failed for user "{user}"', "28P01")
        throttle.succeeded(user, peer_host)
        target = self.config.targets.get(database)
        if target is None or target.protocol != "postgres":
            raise ClientError(
                f"airlock: unknown target {database!r}: the database name selects a configured "
                "Postgres target",
                "3D000",
            )
        allowed = self.config.users.get(identity.user)
        if allowed is not None and allowed.targets and target.name not in allowed.targets:
            raise ClientError(
                f"airlock: user {identity.user!r} may not use target {target.name!r}", "42501"
            )
        if self.limiter is not None:
            refused = self.limiter.try_acquire(identity.user, target.name)
            if refused:
                metrics.rejected("limit")
                raise ClientError(refused, "53300")
        try:
            upstream = await up.connect(target, startup_settings.upstream)
        except BaseException as exc:
            if self.limiter is not None:
                self.limiter.release(identity.user, target.name)
            if isinstance(exc, up.UpstreamError):
                metrics.upstream_error("postgres", target.name, "connect")
                audit.emit(
                    Event.UPSTREAM_FAILED,
                    protocol="postgres",
                    target=target.name,
                    user=identity.user,
                    error=str(exc),
                )
                raise ClientError(f"airlock: {exc}", exc.sqlstate) from None
            raise
        session = Session(
            id=secrets.token_hex(8),
            protocol=WireProtocol.POSTGRES,
            identity=identity,
            target=target.name,
            client_addr=client_addr,
            agent=startup_settings.application_name,
            reason=startup_settings.reason,
            tls=tls,
            node=self.config.node,
        )
        ctx = SessionContext(session=session, lexing=startup_settings.lexing)
        return session, upstream, ctx, startup_settings.encoding

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: Session,
        upstream: up.Upstream,
        ctx: SessionContext,
        encoding: str,
    ) -> None:
        target = self.config.targets[session.target]
        stats = SessionStats()
        secret = secrets.randbits(31)
        while (upstream.pid, secret) in self.live:
            secret = secrets.randbits(31)
        key = (upstream.pid, secret)
        started = time.time()
        try:
            await self.store.session_started(SessionRow.opened(session, started))
            ctx.recorder = self.recorder_factory(session) if self.recorder_factory else None
            if isinstance(ctx.recorder, TranscriptWriter):
                # Lines reach the kernel in one write per client read, before forwarding.
                ctx.recorder.defer()
        except Exception as exc:
            log.exception("cannot start session record")
            writer.write(
                m.error_response("58030", f"airlock: cannot record this session: {exc}", "FATAL")
            )
            upstream.writer.close()
            return
        relay = PgRelay(
            ctx,
            self.checkpoint,
            self.config.postgres.max_message_bytes,
            stats,
            _result_recorder(ctx),
        )

        ctx.on_hold = relay.on_hold

        async def notify(text: str) -> None:
            if relay.client is not None and not relay.client.is_closing():
                relay.to_client(m.notice_response(text))

        async def notice(told: telling.Told) -> None:
            if relay.client is not None and not relay.client.is_closing():
                relay.to_client(m.notice_response(told.message, told.detail, hint=told.hint))

        ctx.notify = notify
        ctx.notice = notice
        self.live[key] = _Live(target, upstream.pid, upstream.secret, relay)
        session_metrics = metrics.session_started("postgres", session.target)
        audit.emit(Event.SESSION_START, **session_fields(session))
        forget = (
            self.sessions.register(
                session.id,
                session.identity.token_id,
                lambda why: relay.fail_client("57P01", f"airlock: {why}"),
            )
            if self.sessions is not None and session.identity.token_id
            else None
        )
        try:
            hello = [m.auth_ok(), *upstream.params, *upstream.notices]
            write = client_writer(writer.transport)
            if encoding:
                write(b"".join(hello))  # the client may get notices while policy decides
                hello = await self._startup_encoding(ctx, upstream, encoding, write)
                if not hello:
                    return
            hello.append(m.backend_key_data(upstream.pid, secret))
            hello.append(m.ready_for_query(upstream.status))
            write(b"".join(hello))  # TLS records libpq reads whole
            # Bytes the startup streams read past the handshake belong to the relay now.
            client_leftover = _drain_buffer(reader)
            upstream_leftover = _drain_buffer(upstream.reader)
            relay.attach(writer.transport, upstream.writer.transport)  # type: ignore[arg-type]
            if upstream_leftover:
                relay.from_upstream(upstream_leftover)
            if client_leftover:
                relay.from_client(client_leftover)
            await relay.done
        finally:
            if forget is not None:
                forget()
            self.live.pop(key, None)
            upstream.writer.close()
            if self.limiter is not None:
                self.limiter.release(session.identity.user, session.target)
            await self._finish(session, stats, ctx, session_metrics)

    async def _startup_encoding(
        self,
        ctx: SessionContext,
        upstream: up.Upstream,
        encoding: str,
        write: Callable[[bytes], None],
    ) -> list[bytes]:
        """A non-UTF-8 client_encoding from the startup packet goes to policy as the SET it
        amounts to (recorded as that statement), the same way as when it is sent later:
        allowed, it is set upstream and the session's lexing state becomes unmodelled (every
        statement `unknown`); refused, the connection ends with the refusal (FATAL). Returns
        the ParameterStatus messages to send on, or [] when the session is over."""
        literal = "'" + encoding.replace("'", "''") + "'"
        text = f"SET client_encoding = {literal}"
        action = Action(ActionKind.QUERY, text.encode(), text)

        async def notice(told: telling.Told) -> None:
            write(m.notice_response(told.message, told.detail, hint=told.hint))

        saved, ctx.notice = ctx.notice, notice
        try:
            outcome = await self.checkpoint.decide(ctx, action)
        finally:
            ctx.notice = saved
        if not outcome.allowed:
            fatal = m.error_response(
                outcome.sqlstate, outcome.message, "FATAL", outcome.detail, outcome.hint
            )
            write(fatal)
            return []
        upstream.writer.write(m.query(text))
        params: list[bytes] = []
        while True:
            kind, msg = await up.read_message(upstream.reader)
            if kind in (ord("S"), ord("N")):  # the new client_encoding, and any notice
                params.append(msg)
            elif kind == ord("E"):
                fields = m.parse_fields(msg)
                write(m.error_response(fields.get("C", "22023"), fields.get("M", "?"), "FATAL"))
                return []
            elif kind == ord("Z"):
                break
        ctx.lexing = LexingState(ctx.lexing.standard_conforming_strings, encoding)
        return params

    async def _finish(
        self,
        session: Session,
        stats: SessionStats,
        ctx: SessionContext,
        session_metrics: metrics.SessionMetrics,
    ) -> None:
        session_metrics.bytes_in(stats.bytes_in)
        session_metrics.bytes_out(stats.bytes_out)
        session_metrics.ended()
        audit.emit(
            Event.SESSION_END,
            **session_fields(session),
            bytes_in=stats.bytes_in,
            bytes_out=stats.bytes_out,
            statements=stats.statements,
        )
        if ctx.recorder is not None:
            try:
                seq, head = ctx.recorder.close(
                    bytes_in=stats.bytes_in, bytes_out=stats.bytes_out, statements=stats.statements
                )
                await self.store.set_head(session.id, seq, head)
            except Exception:
                log.exception("closing transcript failed")
        try:
            await self.store.session_ended(
                session.id, time.time(), stats.bytes_in, stats.bytes_out, stats.statements
            )
        except Exception:
            log.exception("cannot record the end of session %s", session.id)


def _result_recorder(ctx: SessionContext) -> Callable[[int, bytes, float], None] | None:
    """Records each statement's outcome (command tag or error) as the server reports it."""
    writer = ctx.recorder
    if writer is None:
        return None
    tags: dict[bytes, str] = {}  # CommandComplete message -> tag: a session repeats a few
    complete = ord("C")
    monotonic = time.monotonic

    def on_result(kind: int, msg: bytes, sent_at: float) -> None:
        duration_ms = (monotonic() - sent_at) * 1000
        try:
            if kind == complete:
                tag = tags.get(msg)
                if tag is None:
                    tag = m.command_tag(msg)
                    if len(tags) < 64:
                        tags[msg] = tag
                writer.completed(tag, duration_ms)
            else:
                fields = m.parse_fields(msg)
                writer.result(
                    sqlstate=fields.get("C"), error=fields.get("M"), duration_ms=duration_ms
                )
        except Exception:
            # The action already ran; the next one is refused if the transcript is broken.
            log.exception("cannot record a result")

    return on_result


async def _read_client_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(5)
    length = int.from_bytes(header[1:5], "big")
    if length < 4 or length > 1 << 16:
        raise m.ProtocolError(f"invalid message length {length} during authentication")
    return header[0], header + await reader.readexactly(length - 4)


def _drain_buffer(reader: asyncio.StreamReader) -> bytes:
    """What a StreamReader holds unread; the stdlib has no public peek, so read its buffer."""
    buffer: bytearray = getattr(reader, "_buffer", bytearray())
    data = bytes(buffer)
    buffer.clear()
    return data
