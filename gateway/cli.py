"""The `airlock` command. Each verb module registers itself; this file only dispatches."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import secrets
import sys
from pathlib import Path

from gateway import __version__
from gateway.config import ConfigError, load_config

DEFAULT_CONFIG = "/etc/airlock/airlock.toml"

#: Modules that add verbs with `register(subparsers)`; a missing one is skipped.
VERB_MODULES = (
    "gateway.cli_check",
    "gateway.cli_recording",
    "gateway.cli_identity",
    "gateway.cli_approvals",
)

CONFIG_TEMPLATE = """\
# Airlock configuration written by `airlock init`. Every key is documented in
# config.example.toml; paths are relative to this file's directory.

[gateway]
node = "{node}"
state_dir = "state"
store = "sqlite"

[postgres]
listen = "{host}:{pg_port}"
tls_cert = "state/keys/tls.crt"
tls_key = "state/keys/tls.key"

[ssh]
listen = "{host}:{ssh_port}"
host_key = "state/keys/ssh_host_ed25519"

[http]
listen = "{host}:{http_port}"

[users.{admin}]
password_hash = "{admin_hash}"
groups = ["admins"]

[users.{agent}]
password_hash = "{agent_hash}"
groups = ["agents"]

[approvals]
operator = "{admin}"
{targets}"""


def cmd_init(args: argparse.Namespace) -> int:
    from gateway.files import private_dirs, private_umask, tighten, write_private
    from gateway.identity.passwords import make_verifier
    from gateway.keys import write_audit_key, write_ssh_host_key, write_tls_certificate

    private_umask()
    directory = Path(args.dir).resolve()
    config_path = directory / "airlock.toml"
    if config_path.exists() and not args.force:
        print(f"airlock: {config_path} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    keys = directory / "state" / "keys"
    private_dirs(keys)
    for existing in (directory / "state", keys):
        tighten(existing)  # --force over a directory an older version made
    write_audit_key(keys / "audit_ed25519", keys / "audit_ed25519.pub")
    write_ssh_host_key(keys / "ssh_host_ed25519")
    write_tls_certificate(keys / "tls.crt", keys / "tls.key", ("localhost", "127.0.0.1", "::1"))
    password = args.admin_password or secrets.token_urlsafe(12)
    agent_password = args.agent_password or secrets.token_urlsafe(12)
    targets = ""
    if args.demo_postgres:
        host, _, port = args.demo_postgres.rpartition(":")
        targets = (
            f'\n[targets.demo]\nprotocol = "postgres"\nhost = "{host or "127.0.0.1"}"\n'
            f'port = {int(port)}\ndatabase = "postgres"\nuser = "{args.demo_user}"\n'
        )
    write_private(  # password hashes: 0600 like the state
        config_path,
        CONFIG_TEMPLATE.format(
            node=args.node,
            host=args.host,
            pg_port=args.postgres_port,
            ssh_port=args.ssh_port,
            http_port=args.http_port,
            admin=args.admin,
            admin_hash=make_verifier(password),
            agent=args.agent,
            agent_hash=make_verifier(agent_password),
            targets=targets,
        ).encode(),
    )
    load_config(config_path)  # what init writes must load
    print(f"airlock: wrote {config_path} and keys under {keys}")
    if not args.admin_password:
        print(f"airlock: user {args.admin!r} (approver) password: {password}  (shown once)")
    if not args.agent_password:
        print(f"airlock: user {args.agent!r} (agent) password: {agent_password}  (shown once)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.app import serve
    from gateway.files import private_umask

    private_umask()  # before any thread: a backstop for files libraries create

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; stdlib loop works too
        pass
    path = args.config or os.environ.get("AIRLOCK_CONFIG") or DEFAULT_CONFIG
    return asyncio.run(serve(Path(path)))


def cmd_passwd(args: argparse.Namespace) -> int:
    from gateway.identity.passwords import make_verifier

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("airlock: passwords differ", file=sys.stderr)
            return 1
    if not password:
        print("airlock: empty password refused", file=sys.stderr)
        return 1
    print(make_verifier(password))
    return 0


DESCRIPTION = """\
Airlock: a gateway for SSH and PostgreSQL that checks every command and statement an
agent sends, and holds privileged ones until a person approves them. Every session is
recorded as a signed, tamper-evident transcript."""

EPILOG = """\
getting started:
  airlock init --dir /etc/airlock           write a config, keys and two users
  airlock serve                             run the gateway (Ctrl-C or SIGTERM drains)
  airlock check --protocol postgres 'DROP TABLE t'   what the policy would do (no config needed)

approving (as the operator, through the running gateway):
  airlock requests --watch                  the queue: who, what, why, time left
  airlock approve ID  |  airlock deny ID    deny asks for a reason on a terminal

auditing:
  airlock sessions                          recorded sessions
  airlock replay SESSION                    verified first; refuses a tampered transcript
  airlock verify --all                      tamper check of every transcript

environment:
  AIRLOCK_CONFIG   config file when --config is not given (default /etc/airlock/airlock.toml)
  AIRLOCK_TOKEN    the operator's API token or password, for requests/approve/deny

Run `airlock VERB --help` for a verb's options. Documentation: README.md and docs/."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airlock",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"airlock {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")

    p = sub.add_parser("init", help="write a working config, keys and a TLS certificate")
    p.add_argument("--dir", required=True, help="directory for airlock.toml and state/")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.add_argument("--node", default="node-1")
    p.add_argument("--host", default="127.0.0.1", help="listen address for all listeners")
    p.add_argument("--postgres-port", type=int, default=6432)
    p.add_argument("--ssh-port", type=int, default=2222)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--admin", default="admin", help="name of the first local user")
    p.add_argument("--admin-password", help="its password (default: generated and printed)")
    p.add_argument("--agent", default="agent", help="name of a second user, for agents")
    p.add_argument("--agent-password", help="its password (default: generated and printed)")
    p.add_argument("--demo-postgres", metavar="HOST:PORT", help="add a Postgres target 'demo'")
    p.add_argument("--demo-user", default="postgres")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="run the gateway in the foreground (SIGHUP reloads)")
    p.add_argument("--config", help=f"config file (default $AIRLOCK_CONFIG, else {DEFAULT_CONFIG})")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("passwd", help="print a password hash for a local user's config")
    p.add_argument("--stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_passwd)

    for name in VERB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from gateway.logs import setup_logging

    setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"airlock: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
