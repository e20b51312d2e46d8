"""Composition root: build the parts from config, start listeners, handle signals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from gateway import audit, liveness, metrics, sdnotify
from gateway.approvals.broker import Broker
from gateway.approvals.config import parse_approvals
from gateway.approvals.notifiers import build_notifiers
from gateway.audit import Event
from gateway.checkpoint import Checkpoint, RefuseAllReviews
from gateway.config import Config, ConfigError, Listen, load_config
from gateway.files import private_dirs, tighten
from gateway.http.server import STATE as HTTP_STATE
from gateway.http.server import start_http
from gateway.identity.authenticator import Authenticator
from gateway.identity.sessions import SessionRegistry, watch_revocations
from gateway.keys import load_audit_key, server_tls_context
from gateway.limits import ConnectionLimiter, parse_limits
from gateway.logs import JsonFormatter
from gateway.model import Session
from gateway.policy import load_policy
from gateway.postgres.listener import PostgresGateway
from gateway.recording.pruner import run_pruner
from gateway.recording.redact import Redactor
from gateway.recording.retention import Pruned
from gateway.recording.writer import Durability, TranscriptWriter
from gateway.recording.writer import Recorder as AuditRecorder
from gateway.ssh.server import SshGateway
from gateway.ssh.upstream import check_target_files
from gateway.store.base import Store
from gateway.store.sqlite import open_store

log = logging.getLogger("airlock")

#: How often expired transcripts are looked for (recording.retention_days > 0).
PRUNE_INTERVAL_S = 3600.0


def _log_pruned(pruned: list[Pruned]) -> None:
    """The pruning is recorded in its own signed transcript; this is the log line."""
    log.info(
        "pruned %d transcripts past retention (%d bytes): %s",
        len(pruned),
        sum(p.bytes for p in pruned),
        [p.session_id for p in pruned],
    )


#: What held clients and sessions cut at the drain deadline are told.
SHUTTING_DOWN = "the gateway is shutting down"
#: After the deadline, how long cut sessions get to close and sign their transcripts.
_CUT_GRACE_S = 5.0


@dataclass
class Bound:
    """Ports actually bound (tests bind port 0)."""

    postgres: int | None = None
    ssh: int | None = None
    http: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


def configure_audit(config: Config) -> None:
    """The audit log's file/syslog sinks; a sink that cannot be opened names its key."""
    audit.configure(config.audit, JsonFormatter(Redactor(config.recording.redact_patterns)))


@contextlib.asynccontextmanager
async def _listening(key: str, where: Listen) -> AsyncIterator[None]:
    """A listener that cannot bind (port in use, address not local, no permission) is one
    line naming the key and the address, not a traceback."""
    try:
        yield
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(key, f"cannot listen on {where}: {why}") from None


class Airlock:
    def __init__(self, config: Config, checkpoint: Checkpoint | None = None) -> None:
        configure_audit(config)
        check_target_files(config.targets.values())
        self.config = config
        self.store: Store = open_store(config.store, config.store_path)
        self.sessions = SessionRegistry()
        self.authenticator = Authenticator(config, self.store)
        self._revocations: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.checkpoint = checkpoint or Checkpoint(load_policy(config.policy_raw))
        self.recorder = self._make_recorder(config)
        self.broker: Broker | None = None
        self.http_runner: web.AppRunner | None = None
        self.postgres: PostgresGateway | None = None
        self.ssh: SshGateway | None = None
        self.bound = Bound()
        self.limiter = ConnectionLimiter.from_config(config)
        self.stopped = False
        metrics.set_node(config.node)
        self.started = time.time()

    @staticmethod
    def _make_recorder(config: Config) -> AuditRecorder:
        if not config.keys.audit_key.exists():
            raise ConfigError(
                "keys.audit_key", f"{config.keys.audit_key} does not exist (run `airlock init`)"
            )
        return AuditRecorder(
            config.recording.directory,
            load_audit_key(config.keys.audit_key),
            Redactor(config.recording.redact_patterns, config.recording.sensitive_columns),
            Durability(config.recording.durability),
            rows_limit=config.recording.rows_limit,
            rows_bytes_limit=config.recording.rows_bytes_limit,
            stream_bytes_limit=config.recording.stream_bytes_limit,
            node=config.node,
        )

    def open_transcript(self, session: Session) -> TranscriptWriter:
        return self.recorder.open(
            session.id,
            protocol=session.protocol.value,
            user=session.identity.user,
            groups=sorted(session.identity.groups),
            source=session.identity.source,
            agent=session.agent,
            client_addr=session.client_addr,
            target=session.target,
            tls=session.tls,
            reason=session.reason,
        )

    async def start(self) -> Bound:
        config = self.config
        private_dirs(config.state_dir)
        tighten(config.state_dir)  # an older version (or StateDirectoryMode=0750) made it
        await self.store.open()
        await liveness.announce(self.store, config.node, self.started)
        self._heartbeat = asyncio.create_task(
            liveness.heartbeat(self.store, config.node, self.started), name="node-heartbeat"
        )
        if config.recording.retention_days > 0:
            self._pruner = asyncio.create_task(
                run_pruner(
                    self.recorder,
                    config.recording.directory,
                    config.recording.retention_days,
                    PRUNE_INTERVAL_S,
                    _log_pruned,
                ),
                name="transcript-pruner",
            )
        self._revocations = asyncio.create_task(
            watch_revocations(
                self.store, self.sessions, self.authenticator.settings.revocation_poll_s
            )
        )
        approvals = parse_approvals(config.raw.get("approvals", {}))
        self.broker = Broker(
            self.store,
            approvals,
            node=config.node,
            public_url=config.http.public_url,
            redactor=Redactor(config.recording.redact_patterns, config.recording.sensitive_columns),
            notifiers=build_notifiers(approvals),
            shared_store=config.store != "sqlite",
        )
        await self.broker.start()
        # Reviews wait for a human only where one can answer: this node's HTTP API (the
        # page, Slack, the CLI) or another node's through a shared store. Otherwise a review
        # is refused at once, saying no approval channel is configured.
        reachable = config.http.listen is not None or config.store != "sqlite"
        if reachable and isinstance(self.checkpoint.reviewer, RefuseAllReviews):
            self.checkpoint.reviewer = self.broker
        if config.http.listen is not None:
            async with _listening("http.listen", config.http.listen):
                self.http_runner, self.bound.http = await start_http(
                    config,
                    self.broker,
                    self.authenticator,
                    self.store,
                    self.health,
                    config.http.listen.host,
                    config.http.listen.port,
                )
        pg = config.postgres
        if pg.listen is not None:
            tls = (
                server_tls_context(pg.tls_cert, pg.tls_key) if pg.tls_cert and pg.tls_key else None
            )
            self.postgres = PostgresGateway(
                config,
                self.authenticator,
                self.checkpoint,
                self.store,
                self.open_transcript,
                tls,
                self.limiter,
                self.sessions,
            )
            async with _listening("postgres.listen", pg.listen):
                self.bound.postgres = await self.postgres.start(pg.listen.host, pg.listen.port)
            log.info("postgres listening on %s:%s", pg.listen.host, self.bound.postgres)
        if config.ssh.listen is not None:
            self.ssh = SshGateway(
                config,
                self.authenticator,
                self.checkpoint,
                self.open_transcript,
                store=self.store,
                sessions=self.sessions,
                limiter=self.limiter,
            )
            async with _listening("ssh.listen", config.ssh.listen):
                self.bound.ssh = await self.ssh.start(
                    config.ssh.listen.host, config.ssh.listen.port
                )
            log.info("ssh listening on %s:%s", config.ssh.listen.host, self.bound.ssh)
        return self.bound

    async def health(self) -> dict[str, object]:
        """/readyz: the store takes a write and the transcript directory is writable."""
        try:
            await self.store.put("health", self.config.node, {"at": time.time()})
            store_ok = True
        except Exception:
            log.exception("store health check failed")
            store_ok = False
        directory = self.config.recording.directory
        recorder_ok = directory.is_dir() and os.access(directory, os.W_OK)
        return {"ready": store_ok and recorder_ok, "store": store_ok, "recorder": recorder_ok}

    async def drain(self, timeout_s: float, hurry: asyncio.Event | None = None) -> None:
        """SIGTERM: refuse new connections, answer held clients, let sessions finish, stop.

        Every listener stops accepting at once; requests held on this node are withdrawn
        (their clients get an error saying the gateway is shutting down, as nobody could
        release them now); live sessions run until they end or ``timeout_s`` passes (or
        ``hurry`` is set: a second SIGTERM), then the rest are ended. Every transcript,
        including a cut one, is closed with its signed ``session_end`` by ``stop()``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        gateways = [g for g in (self.postgres, self.ssh) if g is not None]
        for gateway in gateways:
            gateway.stop_accepting()
        if self.http_runner is not None:
            for site in list(self.http_runner.sites):
                await site.stop()  # closes the listening socket only
        live = len(self.postgres.handlers) if self.postgres else 0
        live += len(self.ssh._conns) if self.ssh else 0
        log.info(
            "draining: listeners closed, %d connections live, deadline in %g s", live, timeout_s
        )
        if self.broker is not None:
            withdrawn = await self.broker.withdraw_all(SHUTTING_DOWN)
            if withdrawn:
                log.info("draining: withdrew %d held approval requests", withdrawn)
        waits = {asyncio.ensure_future(g.drained()) for g in gateways}
        stopper = asyncio.ensure_future(hurry.wait()) if hurry is not None else None
        try:
            pending = set(waits)
            while pending and (stopper is None or not stopper.done()):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                watch = pending | ({stopper} if stopper is not None else set())
                await asyncio.wait(watch, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                pending = {w for w in waits if not w.done()}
            if pending:
                text = f"airlock: {SHUTTING_DOWN} (drain deadline reached)"
                ended = sum(g.end_sessions(text) for g in gateways)
                log.warning("draining: deadline reached, ending %d sessions", ended)
                await asyncio.wait(pending, timeout=_CUT_GRACE_S)
            else:
                log.info("draining: every session ended")
        finally:
            for task in [*waits, *([stopper] if stopper is not None else [])]:
                task.cancel()
        await self.stop()

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self._revocations is not None:
            self._revocations.cancel()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        if self.postgres is not None:
            await self.postgres.close()
        if self.ssh is not None:
            await self.ssh.close()
        await self.recorder.aclose()
        if self.http_runner is not None:
            await self.http_runner.cleanup()
        if self.broker is not None:
            await self.broker.stop()
        self.authenticator.close()
        try:
            await liveness.stopped(self.store, self.config.node, self.started)
        except Exception:
            log.exception("could not record the node's clean stop")
        await self.store.close()

    def reload(self) -> bool:
        """SIGHUP: swap users, targets and policy atomically, or keep the old ones."""
        if self.config.path is None:
            return False
        sdnotify.reloading()
        try:
            config = load_config(self.config.path)
            policy = load_policy(config.policy_raw)
            parse_limits(config.raw)
            check_target_files(config.targets.values())
            configure_audit(config)
            # Last (it reconfigures the shared throttle): the throttle carries over, a
            # reload must not forgive recent failed logins.
            authenticator = Authenticator(config, self.store, throttle=self.authenticator.throttle)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config: %s", exc)
            audit.emit(Event.RELOAD_REJECTED, path=str(self.config.path), error=str(exc))
            metrics.reloaded(False)
            sdnotify.ready()
            return False
        self.config = config
        old, self.authenticator = self.authenticator, authenticator
        old.close()
        self.checkpoint.replace_policy(policy)
        if self.postgres is not None:
            self.postgres.reconfigure(config, authenticator)
        if self.ssh is not None:
            self.ssh.config, self.ssh.authenticator = config, authenticator
        if self.http_runner is not None:
            self.http_runner.app[HTTP_STATE].authenticator = authenticator
        self.limiter.reconfigure(config)
        metrics.reloaded(True)
        audit.emit(Event.RELOAD_OK, path=str(config.path))
        sdnotify.ready()
        log.info("configuration reloaded from %s", config.path)
        return True


async def serve(config_path: Path) -> int:
    config = load_config(config_path)
    app = Airlock(config)
    try:
        await app.start()
    except BaseException:
        await app.stop()  # what did start (other listeners, the store) is closed again
        raise
    stop, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_stop_signal() -> None:
        # The first SIGTERM/SIGINT starts the drain; a second one ends it at once.
        (hurry if stop.is_set() else stop).set()

    loop.add_signal_handler(signal.SIGTERM, on_stop_signal)
    loop.add_signal_handler(signal.SIGINT, on_stop_signal)
    loop.add_signal_handler(signal.SIGHUP, app.reload)
    # Start-up objects (config, parsers, tables) never die: keep them out of the cyclic
    # collector, and collect young objects less often (a relay allocates per message).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    bound = app.bound
    status = f"postgres {bound.postgres} ssh {bound.ssh} http {bound.http}"
    print(f"airlock: ready ({status})", flush=True)
    sdnotify.ready(status)
    watchdog = sdnotify.start_watchdog()
    try:
        await stop.wait()
        sdnotify.stopping("draining")
        # The watchdog keeps running while draining: a drain may outlast WatchdogSec.
        await app.drain(app.config.drain_timeout_s, hurry)
    finally:
        await sdnotify.stop_watchdog(watchdog)
        if not app.stopped:
            sdnotify.stopping("stopping")
            await app.stop()
    return 0
