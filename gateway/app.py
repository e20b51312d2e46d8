"""Composition root: build the parts from config, start listeners, handle signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway import metrics, sdnotify
from gateway.checkpoint import Checkpoint
from gateway.config import Config, ConfigError, load_config
from gateway.identity.authenticator import Authenticator
from gateway.keys import load_audit_key, server_tls_context
from gateway.limits import ConnectionLimiter, parse_limits
from gateway.model import Session
from gateway.policy import load_policy
from gateway.postgres.listener import PostgresGateway
from gateway.recording.redact import Redactor
from gateway.recording.writer import Durability, TranscriptWriter
from gateway.recording.writer import Recorder as AuditRecorder
from gateway.ssh.server import SshGateway
from gateway.store.base import Store
from gateway.store.sqlite import open_store

log = logging.getLogger("airlock")


@dataclass
class Bound:
    """Ports actually bound (tests bind port 0)."""

    postgres: int | None = None
    ssh: int | None = None
    http: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


class Airlock:
    def __init__(self, config: Config, checkpoint: Checkpoint | None = None) -> None:
        self.config = config
        self.store: Store = open_store(config.store, config.store_path)
        self.authenticator = Authenticator(config)
        self.checkpoint = checkpoint or Checkpoint(load_policy(config.policy_raw))
        self.recorder = self._make_recorder(config)
        self.postgres: PostgresGateway | None = None
        self.ssh: SshGateway | None = None
        self.bound = Bound()
        self.limiter = ConnectionLimiter.from_config(config)
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
        await self.store.open()
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
            )
            self.bound.postgres = await self.postgres.start(pg.listen.host, pg.listen.port)
            log.info("postgres listening on %s:%s", pg.listen.host, self.bound.postgres)
        if config.ssh.listen is not None:
            self.ssh = SshGateway(config, self.authenticator, self.checkpoint, self.open_transcript)
            self.bound.ssh = await self.ssh.start(config.ssh.listen.host, config.ssh.listen.port)
            log.info("ssh listening on %s:%s", config.ssh.listen.host, self.bound.ssh)
        return self.bound

    async def stop(self) -> None:
        if self.postgres is not None:
            await self.postgres.close()
        if self.ssh is not None:
            await self.ssh.close()
        await self.recorder.aclose()
        await self.store.close()

    def reload(self) -> bool:
        """SIGHUP: swap users, targets and policy atomically, or keep the old ones."""
        if self.config.path is None:
            return False
        sdnotify.reloading()
        try:
            config = load_config(self.config.path)
            policy = load_policy(config.policy_raw)
            authenticator = Authenticator(config)
            parse_limits(config.raw)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config: %s", exc)
            metrics.reloaded(False)
            sdnotify.ready()
            return False
        self.config = config
        self.authenticator = authenticator
        self.checkpoint.replace_policy(policy)
        if self.postgres is not None:
            self.postgres.reconfigure(config, authenticator)
        if self.ssh is not None:
            self.ssh.config, self.ssh.authenticator = config, authenticator
        self.limiter.reconfigure(config)
        metrics.reloaded(True)
        sdnotify.ready()
        log.info("configuration reloaded from %s", config.path)
        return True


async def serve(config_path: Path) -> int:
    config = load_config(config_path)
    app = Airlock(config)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, app.reload)
    bound = app.bound
    status = f"postgres {bound.postgres} ssh {bound.ssh} http {bound.http}"
    print(f"airlock: ready ({status})", flush=True)
    sdnotify.ready(status)
    watchdog = sdnotify.start_watchdog()
    try:
        await stop.wait()
    finally:
        sdnotify.stopping("draining")
        await sdnotify.stop_watchdog(watchdog)
        await app.stop()
    return 0
