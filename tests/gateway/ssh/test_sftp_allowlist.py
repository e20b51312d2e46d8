"""Invariant 8 by enumeration: everything asyncssh's SFTP server can do is relayed or refused.

These read asyncssh's own tables and classes, so a release that adds a request, an
extension or a server method fails here until someone decides which set it belongs to.
"""

from __future__ import annotations

import inspect

import asyncssh
import pytest
from asyncssh.sftp import SFTPServerHandler

from gateway.ssh.sftp import RelaySFTPServer
from gateway.ssh.sftp_allowlist import (
    NOT_ADVERTISED_INFO,
    PURE_MEMBERS,
    REFUSED_METHODS,
    REFUSED_REQUESTS,
    RELAYED_METHODS,
    RELAYED_REQUESTS,
    AllowlistSFTPHandler,
    RefusingSFTPServer,
)

PUBLIC = sorted(n for n, _ in inspect.getmembers(asyncssh.SFTPServer) if not n.startswith("_"))


def test_the_sets_are_disjoint() -> None:
    assert not RELAYED_REQUESTS & REFUSED_REQUESTS
    assert not RELAYED_METHODS & PURE_MEMBERS
    assert not RELAYED_METHODS & REFUSED_METHODS
    assert not PURE_MEMBERS & REFUSED_METHODS


@pytest.mark.parametrize("key", list(SFTPServerHandler._packet_handlers), ids=repr)
def test_every_request_asyncssh_dispatches_is_relayed_or_refused(key: int | bytes) -> None:
    assert key in RELAYED_REQUESTS | REFUSED_REQUESTS, f"decide: relay or refuse {key!r}"


def test_the_handler_dispatches_exactly_the_relayed_requests() -> None:
    assert set(AllowlistSFTPHandler._packet_handlers) == RELAYED_REQUESTS
    # limits is answered from the target, not from the gateway's own sysconf
    limits = AllowlistSFTPHandler._packet_handlers[b"limits@openssh.com"]
    assert limits is not SFTPServerHandler._packet_handlers[b"limits@openssh.com"]


@pytest.mark.parametrize("name", [n for n, _ in SFTPServerHandler._extensions], ids=repr)
def test_every_extension_asyncssh_advertises_is_decided(name: bytes) -> None:
    assert name in RELAYED_REQUESTS | REFUSED_REQUESTS | NOT_ADVERTISED_INFO, name


def test_only_relayed_extensions_are_advertised() -> None:
    advertised = {name for name, _ in AllowlistSFTPHandler._extensions}
    assert advertised <= RELAYED_REQUESTS
    assert b"lsetstat@openssh.com" in advertised


@pytest.mark.parametrize("name", PUBLIC)
def test_every_sftp_server_member_is_relayed_pure_or_refused(name: str) -> None:
    assert name in RELAYED_METHODS | PURE_MEMBERS | REFUSED_METHODS, f"decide: {name}"
    member = inspect.getattr_static(asyncssh.SFTPServer, name)
    if isinstance(member, property):
        assert name in PURE_MEMBERS  # channel accessors
    elif name in REFUSED_METHODS:
        assert name not in RelaySFTPServer.__dict__
    else:
        # The relay's own definition, never the library's local-filesystem default.
        assert name in RelaySFTPServer.__dict__, name


@pytest.mark.parametrize("name", sorted(REFUSED_METHODS))
def test_refused_methods_raise_op_unsupported_at_call_time(name: str) -> None:
    server = RelaySFTPServer.__new__(RelaySFTPServer)
    with pytest.raises(asyncssh.SFTPOpUnsupported):
        getattr(server, name)(b"/etc/passwd", 0, 0, 0)


def test_the_base_refuses_every_public_method_asyncssh_defines() -> None:
    server = RefusingSFTPServer.__new__(RefusingSFTPServer)
    for name, member in inspect.getmembers(asyncssh.SFTPServer, inspect.isfunction):
        if name.startswith("_"):
            continue
        assert RefusingSFTPServer.__dict__[name] is not member
        with pytest.raises(asyncssh.SFTPOpUnsupported):
            getattr(server, name)(b"/", b"/")


def test_long_names_never_read_the_gateway_user_database() -> None:
    server = RelaySFTPServer.__new__(RelaySFTPServer)
    name = asyncssh.SFTPName(b"f", attrs=asyncssh.SFTPAttrs(permissions=0o100644, uid=0, gid=0))
    server.format_longname(name)
    assert b" 0 " in name.longname and b"root" not in name.longname


def test_lsetstat_is_classified_like_setstat() -> None:
    from gateway.ssh.sftp import classify_op

    plain = classify_op("lsetstat", ("/home/u/f",))
    assert set(plain.categories) == {"write"}
    owner = classify_op("lsetstat", ("/home/u/f",), "changes owner/group")
    assert "privilege" in owner.categories
    keys = classify_op("lsetstat", ("/home/u/.ssh/authorized_keys",))
    assert "privilege" in keys.categories


@pytest.mark.parametrize(
    ("library", "ours"),
    [
        (asyncssh.SSHServer, "gateway.ssh.server._Server"),
        (asyncssh.SSHServerSession, "gateway.ssh.channel.GatewayChannel"),
    ],
)
def test_every_ssh_request_callback_is_answered_by_airlock(library: type, ours: str) -> None:
    """Channels, forwards, tunnels, subsystems: no `*_requested` falls to asyncssh's default."""
    import importlib

    module, _, name = ours.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    requests = [n for n, _ in inspect.getmembers(library) if n.endswith("_requested")]
    assert requests
    for request in requests:
        assert request in cls.__dict__, f"{name} must decide {request}"
