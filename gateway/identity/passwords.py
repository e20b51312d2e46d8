"""Password verifiers in PostgreSQL's own SCRAM-SHA-256 format.

Storing the SCRAM verifier (not a bcrypt hash) lets the gateway run SCRAM-SHA-256 with
clients without ever holding their password, and still check a cleartext password (SSH
password auth, cleartext inside TLS) by deriving the same keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ITERATIONS = 4096
PREFIX = "SCRAM-SHA-256$"


@dataclass(frozen=True, slots=True)
class Verifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def __str__(self) -> str:
        b64 = base64.b64encode
        return (
            f"{PREFIX}{self.iterations}:{b64(self.salt).decode()}"
            f"${b64(self.stored_key).decode()}:{b64(self.server_key).decode()}"
        )


def make_verifier(
    password: str, salt: bytes | None = None, iterations: int = ITERATIONS
) -> Verifier:
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return Verifier(iterations, salt, hashlib.sha256(client_key).digest(), server_key)


def parse_verifier(text: str) -> Verifier:
    if not text.startswith(PREFIX):
        raise ValueError("must start with SCRAM-SHA-256$ (make one with `airlock passwd`)")
    try:
        head, keys = text[len(PREFIX) :].split("$", 1)
        iterations, salt = head.split(":", 1)
        stored, server = keys.split(":", 1)
        verifier = Verifier(
            int(iterations),
            base64.b64decode(salt, validate=True),
            base64.b64decode(stored, validate=True),
            base64.b64decode(server, validate=True),
        )
    except ValueError as exc:
        raise ValueError("is not a valid SCRAM-SHA-256 verifier") from exc
    if verifier.iterations < 1 or len(verifier.stored_key) != 32 or len(verifier.server_key) != 32:
        raise ValueError("is not a valid SCRAM-SHA-256 verifier")
    return verifier


def check_password(verifier: Verifier, password: str) -> bool:
    candidate = make_verifier(password, verifier.salt, verifier.iterations)
    return hmac.compare_digest(candidate.stored_key, verifier.stored_key)
