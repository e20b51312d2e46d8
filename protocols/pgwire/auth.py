"""Authentication exchanges, sans-IO: the gateway as a SCRAM server to clients and as a
cleartext / md5 / SCRAM client to upstreams. SCRAM itself is scramp's."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from scramp import ScramClient, ScramException

from protocols.pgwire.messages import ProtocolError, password_message, sasl_initial_response

SCRAM = "SCRAM-SHA-256"


class AuthFailed(Exception):
    """Credentials did not match (client side) or the upstream refused ours."""


@dataclass(frozen=True, slots=True)
class ScramKeys:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


class ScramServerExchange:
    """Server side of SCRAM-SHA-256 (RFC 5802/7677) with several candidate verifiers.

    Written here, not with scramp: libpq sends an empty user name (``n=,``; PostgreSQL takes
    the user from the startup packet) and scramp's server rejects empty attributes. The
    client side (to upstreams) is scramp's.

    A user's password and API tokens all derive from the user's salt and iteration count,
    so one server-first message serves every candidate; the proof is checked against each
    stored key. ``matched`` is the index of the candidate that verified.
    """

    def __init__(self, candidates: Sequence[ScramKeys], server_nonce: str) -> None:
        if not candidates:
            raise ValueError("at least one candidate (a mock one for unknown users)")
        salts = {(c.salt, c.iterations) for c in candidates}
        if len(salts) != 1:
            raise ValueError("candidates must share one salt and iteration count")
        self._candidates = candidates
        self._server_nonce = server_nonce
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._gs2 = ""
        self.matched: int | None = None

    def server_first(self, mechanism: str, client_first: bytes) -> bytes:
        if mechanism != SCRAM:
            raise ProtocolError(f"unsupported SASL mechanism {mechanism!r}", "28000")
        try:
            text = client_first.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("invalid SCRAM client-first message", "28000") from exc
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y") or parts[0] == "p":
            raise ProtocolError("invalid or unsupported SCRAM gs2 header", "28000")
        self._gs2 = f"{parts[0]},{parts[1]},"
        self._client_first_bare = parts[2]
        attrs = dict(a.split("=", 1) for a in parts[2].split(",") if "=" in a)
        client_nonce = attrs.get("r", "")
        if not client_nonce or "n" not in attrs:
            raise ProtocolError("invalid SCRAM client-first message", "28000")
        keys = self._candidates[0]
        self._nonce = client_nonce + self._server_nonce
        salt = base64.b64encode(keys.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={keys.iterations}"
        return self._server_first.encode()

    def server_final(self, client_final: bytes) -> bytes:
        """The server-final message; raises AuthFailed when no candidate matches."""
        try:
            text = client_final.decode()
            without_proof, _, proof_b64 = text.rpartition(",p=")
            attrs = dict(a.split("=", 1) for a in without_proof.split(",") if "=" in a)
            proof = base64.b64decode(proof_b64, validate=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError("invalid SCRAM client-final message", "28000") from exc
        if attrs.get("r") != self._nonce:
            raise AuthFailed("SCRAM nonce mismatch")
        if attrs.get("c") != base64.b64encode(self._gs2.encode()).decode():
            raise AuthFailed("SCRAM channel binding mismatch")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        for index, keys in enumerate(self._candidates):
            signature = hmac.digest(keys.stored_key, auth_message, "sha256")
            if len(proof) != len(signature):
                break
            client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
            if hmac.compare_digest(hashlib.sha256(client_key).digest(), keys.stored_key):
                self.matched = index
                server_signature = hmac.digest(keys.server_key, auth_message, "sha256")
                return b"v=" + base64.b64encode(server_signature)
        raise AuthFailed("SCRAM proof did not match")


def mock_keys(secret: bytes, username: str, iterations: int = 4096) -> ScramKeys:
    """Stable fake keys for unknown users, so their exchange looks like a real one."""
    digest = hashlib.sha256(secret + b"\0" + username.encode()).digest()
    return ScramKeys(digest[:16], digest[16:] + digest[:16], digest, iterations)


class UpstreamAuth:
    """Answers an upstream's Authentication requests with the target's injected password."""

    def __init__(self, user: str, password: str | None) -> None:
        self.user = user
        self.password = password
        self._scram: ScramClient | None = None

    def _need_password(self, method: str) -> str:
        if self.password is None:
            raise AuthFailed(
                f"upstream asked for {method} authentication but no password is configured"
            )
        return self.password

    def respond(self, code: int, payload: bytes) -> bytes | None:
        """The message to send for Authentication code `code`, or None for AuthenticationOk."""
        if code == 0:
            return None
        if code == 3:
            return password_message(self._need_password("password").encode() + b"\0")
        if code == 5:
            password = self._need_password("md5")
            inner = hashlib.md5((password + self.user).encode(), usedforsecurity=False).hexdigest()
            outer = hashlib.md5(inner.encode() + payload[:4], usedforsecurity=False).hexdigest()
            return password_message(b"md5" + outer.encode() + b"\0")
        if code == 10:
            mechanisms = [m.decode("utf-8", "replace") for m in payload.split(b"\0") if m]
            if SCRAM not in mechanisms:
                raise AuthFailed(f"upstream offers only SASL mechanisms {mechanisms}")
            self._scram = ScramClient([SCRAM], self.user, self._need_password("SCRAM"))
            return sasl_initial_response(SCRAM, self._scram.get_client_first().encode())
        if code == 11 and self._scram is not None:
            try:
                self._scram.set_server_first(payload.decode())
            except (ScramException, UnicodeDecodeError) as exc:
                raise AuthFailed(f"upstream SCRAM: {exc}") from exc
            return password_message(self._scram.get_client_final().encode())
        if code == 12 and self._scram is not None:
            try:
                self._scram.set_server_final(payload.decode())
            except (ScramException, UnicodeDecodeError) as exc:
                raise AuthFailed(f"upstream SCRAM server signature is wrong: {exc}") from exc
            return b""
        raise AuthFailed(f"unsupported upstream authentication method (code {code})")
