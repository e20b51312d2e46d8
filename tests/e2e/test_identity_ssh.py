"""OpenSSH client through the SSH gateway with directory users: LDAP password, LDAP key,
and an API token as the SSH password."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncssh
import pytest

from gateway.identity.authenticator import Authenticator
from gateway.identity.settings import parse_identity
from gateway.identity.tokens import create_token, user_salt
from gateway.store.sqlite import SqliteStore
from tests.support.slapd import PASSWORDS, Slapd, ldap_section
from tests.support.ssh_gateway import Gw, run, ssh_gateway
from tests.support.sshd import Sshd, write_key


@pytest.fixture(scope="module")
async def gw(sshd: Sshd, slapd: Slapd) -> AsyncIterator[tuple[Gw, SqliteStore]]:
    async with ssh_gateway(sshd) as g:
        store = SqliteStore(g.directory / "airlock.db")
        await store.open()
        settings = parse_identity({"identity": {"ldap": ldap_section(slapd)}})
        auth = Authenticator(g.config, store, settings=settings)
        g.gateway.authenticator = auth
        try:
            yield g, store
        finally:
            auth.close()
            await store.close()


async def _password_login(g: Gw, login: str, password: str) -> tuple[int, bytes, bytes]:
    askpass = g.directory / f"askpass-{login.replace(':', '-')}.sh"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    argv = g.ssh_argv(
        login,
        "echo",
        "pw-ok",
        options=["-o", "PubkeyAuthentication=no", "-o", "BatchMode=no",
                 "-o", "NumberOfPasswordPrompts=1"],
    )  # fmt: skip
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.pop("DISPLAY", None)
    return await run(argv, env=env)


async def test_ldap_password_over_ssh(gw: tuple[Gw, SqliteStore]) -> None:
    g, _ = gw
    rc, out, err = await _password_login(g, "dave:box", PASSWORDS["dave"])
    assert (rc, out) == (0, b"pw-ok\n"), err
    rc, _, err = await _password_login(g, "dave:box", "wrong")
    assert rc == 255 and b"Permission denied" in err


async def test_ldap_key_over_ssh(gw: tuple[Gw, SqliteStore], dave_key: asyncssh.SSHKey) -> None:
    g, _ = gw
    path = write_key(g.directory / "dave_ed25519", dave_key)
    argv = g.ssh_argv("dave:box", "echo", "key-ok")
    argv[argv.index(str(g.client_key))] = str(path)
    rc, out, err = await run(argv)
    assert (rc, out) == (0, b"key-ok\n"), err
    # erin has no key in the directory: the same key does not log her in.
    argv = g.ssh_argv("erin:box", "true")
    argv[argv.index(str(g.client_key))] = str(path)
    rc, _, err = await run(argv)
    assert rc == 255 and b"Permission denied" in err


async def test_token_as_ssh_password(gw: tuple[Gw, SqliteStore]) -> None:
    g, store = gw
    salt = await user_salt(store, "erin", None)
    row, token = await create_token(store, "erin", 3600, "ssh", salt)
    rc, out, err = await _password_login(g, "erin:box", token)
    assert (rc, out) == (0, b"pw-ok\n"), err
    await store.revoke_token(row.id, 0.0)
    rc, _, err = await _password_login(g, "erin:box", token)
    assert rc == 255 and b"Permission denied" in err
