"""API tokens for agents: `alk_<id>_<secret>`, stored only as a SCRAM verifier.

The verifier is derived with the user's own salt and iteration count, so a Postgres SCRAM
exchange can offer one salt and match the password or any live token. The `alk_` prefix
makes a token recognisable in cleartext paths (SSH password, HTTP Bearer) and to secret
scanners.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass

from gateway.identity.passwords import ITERATIONS, Verifier, make_verifier, parse_verifier
from gateway.store.base import Store, TokenRow

PREFIX = "alk_"
_TOKEN = re.compile(r"alk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
SALT_KIND = "user-salt"


@dataclass(frozen=True, slots=True)
class Salt:
    """The salt and iteration count every verifier of one user shares."""

    salt: bytes
    iterations: int


def parse_token(text: str) -> str | None:
    """The token id when `text` has the token shape, else None (then it is a password)."""
    match = _TOKEN.fullmatch(text)
    return match.group(1) if match else None


def parse_ttl(text: str) -> float:
    """`90s`, `30m`, `24h`, `7d` (or plain seconds) -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"invalid TTL {text!r} (use e.g. 90s, 30m, 24h, 7d)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def is_live(row: TokenRow, now: float) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


async def user_salt(store: Store, user: str, password_hash: str | None) -> Salt:
    """The user's salt: from the local password verifier, else one kept in the store."""
    if password_hash:
        v = parse_verifier(password_hash)
        return Salt(v.salt, v.iterations)
    doc = await store.get(SALT_KIND, user)
    if doc is None:
        doc = {"salt": base64.b64encode(secrets.token_bytes(16)).decode(), "iterations": ITERATIONS}
        await store.put(SALT_KIND, user, doc)
    return Salt(base64.b64decode(doc["salt"]), int(doc["iterations"]))


async def create_token(
    store: Store, user: str, ttl_s: float | None, name: str, salt: Salt
) -> tuple[TokenRow, str]:
    """Store a new token's verifier; returns the row and the token text (shown once)."""
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    row = TokenRow(
        id=token_id,
        user=user,
        name=name,
        hash=str(make_verifier(token, salt.salt, salt.iterations)),
        created_at=now,
        expires_at=now + ttl_s if ttl_s is not None else None,
        revoked_at=None,
    )
    await store.add_token(row)
    return row, token


def verifier(row: TokenRow) -> Verifier:
    return parse_verifier(row.hash)
