"""protocols/pgwire/auth.py against scramp's real SCRAM client and server (no mocks)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from scramp import ScramClient, ScramException, ScramMechanism

from protocols.pgwire import messages as m
from protocols.pgwire.auth import (
    SCRAM,
    AuthFailed,
    ScramKeys,
    ScramServerExchange,
    UpstreamAuth,
    mock_keys,
)

SALT = b"0123456789abcdef"
MECH = ScramMechanism(SCRAM)


def keys_for(password: str, salt: bytes = SALT, iterations: int = 4096) -> ScramKeys:
    salt_, stored, server, iters = MECH.make_auth_info(password, iterations, salt)
    return ScramKeys(salt_, stored, server, iters)


def run(
    candidates: list[ScramKeys], password: str, user: str = "alice"
) -> tuple[ScramServerExchange, ScramClient, bytes]:
    """A full exchange; returns the server-final (raises AuthFailed on a wrong password)."""
    exchange = ScramServerExchange(candidates, "servernonce")
    client = ScramClient([SCRAM], user, password)
    server_first = exchange.server_first(SCRAM, client.get_client_first().encode())
    client.set_server_first(server_first.decode())
    final = exchange.server_final(client.get_client_final().encode())
    return exchange, client, final


def first_of(exchange: ScramServerExchange, client: ScramClient) -> str:
    server_first = exchange.server_first(SCRAM, client.get_client_first().encode())
    client.set_server_first(server_first.decode())
    return client.get_client_final()


# --- ScramServerExchange ---------------------------------------------------------------


def test_correct_password_verifies_both_ways() -> None:
    exchange, client, final = run([keys_for("s3cret")], "s3cret")
    assert exchange.matched == 0
    client.set_server_final(final.decode())  # scramp checks our server signature


def test_wrong_password_fails() -> None:
    with pytest.raises(AuthFailed, match="proof"):
        run([keys_for("s3cret")], "wrong")


def test_second_candidate_matches() -> None:
    candidates = [keys_for("password"), keys_for("api-token"), keys_for("other")]
    exchange, client, final = run(candidates, "api-token")
    assert exchange.matched == 1
    client.set_server_final(final.decode())  # signed with the matching candidate's key


def test_no_candidate_matches_leaves_matched_unset() -> None:
    exchange = ScramServerExchange([keys_for("a"), keys_for("b")], "n")
    client = ScramClient([SCRAM], "u", "c")
    with pytest.raises(AuthFailed):
        exchange.server_final(first_of(exchange, client).encode())
    assert exchange.matched is None


def test_server_first_carries_salt_iterations_and_both_nonces() -> None:
    exchange = ScramServerExchange([keys_for("x", iterations=5000)], "SNONCE")
    text = exchange.server_first(SCRAM, b"n,,n=,r=CNONCE").decode()
    assert text == f"r=CNONCESNONCE,s={base64.b64encode(SALT).decode()},i=5000"


def test_empty_user_name_full_exchange() -> None:
    """libpq sends n=, (the user comes from the startup packet), which scramp's client cannot:
    a hand-rolled client with the RFC 5802 computations."""
    import hashlib as h
    import hmac

    keys = keys_for("pw")
    exchange = ScramServerExchange([keys], "srv")
    bare = "n=,r=clientnonce"
    server_first = exchange.server_first(SCRAM, ("n,," + bare).encode()).decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    salted = h.pbkdf2_hmac("sha256", b"pw", base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    without_proof = f"c={base64.b64encode(b'n,,').decode()},r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(h.sha256(client_key).digest(), auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = exchange.server_final(f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha256"))
    assert final == b"v=" + expected and exchange.matched == 0


def test_y_gs2_header_is_accepted_and_bound() -> None:
    keys = keys_for("pw")
    exchange = ScramServerExchange([keys], "srv")
    exchange.server_first(SCRAM, b"y,,n=,r=abc")
    wrong_binding = f"c={base64.b64encode(b'n,,').decode()},r=abcsrv,p=AAAA"
    with pytest.raises(AuthFailed, match="channel binding"):
        exchange.server_final(wrong_binding.encode())


def test_tampered_nonce() -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    final = first_of(exchange, ScramClient([SCRAM], "u", "pw"))
    tampered = final.replace(",r=", ",r=X", 1)
    with pytest.raises(AuthFailed, match="nonce"):
        exchange.server_final(tampered.encode())
    assert exchange.matched is None


def test_tampered_channel_binding() -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    final = first_of(exchange, ScramClient([SCRAM], "u", "pw"))
    tampered = final.replace("c=biws", "c=eSws", 1)  # base64 of "n,," -> "y,,"
    assert tampered != final
    with pytest.raises(AuthFailed, match="channel binding"):
        exchange.server_final(tampered.encode())


@pytest.mark.parametrize("flip", [0, 15, 31])
def test_tampered_proof(flip: int) -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    final = first_of(exchange, ScramClient([SCRAM], "u", "pw"))
    head, _, proof_b64 = final.rpartition(",p=")
    proof = bytearray(base64.b64decode(proof_b64))
    proof[flip] ^= 1
    with pytest.raises(AuthFailed, match="proof"):
        exchange.server_final(f"{head},p={base64.b64encode(proof).decode()}".encode())


def test_proof_of_wrong_length() -> None:
    exchange = ScramServerExchange([keys_for("pw"), keys_for("pw2")], "srv")
    final = first_of(exchange, ScramClient([SCRAM], "u", "pw"))
    head, _, _ = final.rpartition(",p=")
    with pytest.raises(AuthFailed):
        exchange.server_final(f"{head},p={base64.b64encode(b'short').decode()}".encode())


@pytest.mark.parametrize(
    "final",
    [b"\xff\xfe", b"c=biws,r=x,p=not base64!", b"c=biws,r=x,p=\xc3\xa9", b"p=@@@@"],
)
def test_garbage_client_final_is_a_protocol_error(final: bytes) -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    exchange.server_first(SCRAM, b"n,,n=,r=abc")
    with pytest.raises(m.ProtocolError) as info:
        exchange.server_final(final)
    assert info.value.sqlstate == "28000"


@pytest.mark.parametrize("final", [b"", b"garbage", b"c=biws,r=abcsrv"])
def test_proofless_client_final_fails(final: bytes) -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    exchange.server_first(SCRAM, b"n,,n=,r=abc")
    with pytest.raises((AuthFailed, m.ProtocolError)):
        exchange.server_final(final)
    assert exchange.matched is None


def test_unsupported_mechanism() -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    with pytest.raises(m.ProtocolError, match="mechanism") as info:
        exchange.server_first("SCRAM-SHA-256-PLUS", b"p=tls-server-end-point,,n=,r=abc")
    assert info.value.sqlstate == "28000"


@pytest.mark.parametrize(
    "first",
    [
        b"\xff",  # not UTF-8
        b"n,,",  # no attributes
        b"n=,r=abc",  # no gs2 header
        b"p=tls-server-end-point,,n=,r=abc",  # channel binding required: unsupported
        b"x,,n=,r=abc",  # unknown gs2 flag
        b"n,,n=u",  # no nonce
        b"n,,n=u,r=",  # empty nonce
        b"n,,r=abc",  # no user attribute
    ],
)
def test_garbage_client_first_is_a_protocol_error(first: bytes) -> None:
    exchange = ScramServerExchange([keys_for("pw")], "srv")
    with pytest.raises(m.ProtocolError) as info:
        exchange.server_first(SCRAM, first)
    assert info.value.sqlstate == "28000"


def test_candidates_required_and_must_share_salt() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ScramServerExchange([], "n")
    with pytest.raises(ValueError, match="one salt"):
        ScramServerExchange([keys_for("a"), keys_for("b", salt=b"x" * 16)], "n")
    with pytest.raises(ValueError, match="one salt"):
        ScramServerExchange([keys_for("a"), keys_for("b", iterations=4097)], "n")


# --- mock_keys -------------------------------------------------------------------------


def test_mock_keys_are_stable_and_per_user() -> None:
    a1, a2 = mock_keys(b"secret", "mallory"), mock_keys(b"secret", "mallory")
    assert a1 == a2
    assert mock_keys(b"secret", "eve") != a1
    assert mock_keys(b"other", "mallory") != a1
    assert (len(a1.salt), len(a1.stored_key), len(a1.server_key), a1.iterations) == (
        16,
        32,
        32,
        4096,
    )
    assert mock_keys(b"secret", "mallory", 10000).iterations == 10000


def test_mock_keys_exchange_looks_real_and_never_matches() -> None:
    keys = mock_keys(b"secret", "mallory")
    exchange = ScramServerExchange([keys], "srv")
    text = exchange.server_first(SCRAM, b"n,,n=,r=abc").decode()
    assert f"s={base64.b64encode(keys.salt).decode()},i=4096" in text
    with pytest.raises(AuthFailed):
        run([keys], "anything", user="mallory")


# --- UpstreamAuth ---------------------------------------------------------------------


def test_auth_ok_needs_no_answer() -> None:
    assert UpstreamAuth("u", None).respond(0, b"") is None


def test_cleartext() -> None:
    assert UpstreamAuth("u", "pw").respond(3, b"") == m.password_message(b"pw\0")
    with pytest.raises(AuthFailed, match="no password"):
        UpstreamAuth("u", None).respond(3, b"")


def test_md5_known_vector() -> None:
    # md5("postgres" + "postgres") is the well-known rolpassword md53175bce1d3201d16594cebf9d7eb3f9d
    inner = "3175bce1d3201d16594cebf9d7eb3f9d"
    salt = b"\x01\x02\x03\x04"
    outer = hashlib.md5(inner.encode() + salt).hexdigest()
    assert UpstreamAuth("postgres", "postgres").respond(5, salt) == m.password_message(
        b"md5" + outer.encode() + b"\0"
    )
    with pytest.raises(AuthFailed, match="md5"):
        UpstreamAuth("postgres", None).respond(5, salt)


def _scram_server(password: str, salt: bytes = SALT):  # type: ignore[no-untyped-def]
    info = MECH.make_auth_info(password, 4096, salt)
    return MECH.make_server(lambda _user: info)


def _upstream_exchange(auth: UpstreamAuth, server_password: str) -> bytes | None:
    server = _scram_server(server_password)
    initial = auth.respond(10, b"SCRAM-SHA-256\0\0")
    assert initial is not None
    mechanism, first = m.parse_sasl_initial(initial)
    assert mechanism == SCRAM
    server.set_client_first(first.decode())
    reply = auth.respond(11, server.get_server_first().encode())
    assert reply is not None and reply[0] == ord("p")
    server.set_client_final(m.parse_password(reply).decode())  # scramp verifies our proof
    return auth.respond(12, server.get_server_final().encode())


def test_scram_against_scramp_server() -> None:
    assert _upstream_exchange(UpstreamAuth("up_scram", "upstream-pw"), "upstream-pw") == b""


def test_scram_wrong_password_is_refused_by_the_server() -> None:
    with pytest.raises(ScramException):
        _upstream_exchange(UpstreamAuth("up_scram", "wrong"), "upstream-pw")


def test_scram_forged_server_signature() -> None:
    auth = UpstreamAuth("u", "pw")
    server = _scram_server("pw")
    initial = auth.respond(10, b"SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0")
    assert initial is not None
    server.set_client_first(m.parse_sasl_initial(initial)[1].decode())
    reply = auth.respond(11, server.get_server_first().encode())
    assert reply is not None
    forged = b"v=" + base64.b64encode(b"\0" * 32)
    with pytest.raises(AuthFailed, match="server signature"):
        auth.respond(12, forged)


def test_scram_garbage_server_first() -> None:
    auth = UpstreamAuth("u", "pw")
    auth.respond(10, b"SCRAM-SHA-256\0\0")
    with pytest.raises(AuthFailed, match="upstream SCRAM"):
        auth.respond(11, b"r=x,s=@@@,i=1")


def test_scram_not_offered() -> None:
    with pytest.raises(AuthFailed, match="only SASL mechanisms"):
        UpstreamAuth("u", "pw").respond(10, b"SCRAM-SHA-256-PLUS\0\0")


def test_scram_without_password() -> None:
    with pytest.raises(AuthFailed, match="SCRAM"):
        UpstreamAuth("u", None).respond(10, b"SCRAM-SHA-256\0\0")


@pytest.mark.parametrize("code", [2, 6, 7, 8, 9, 11, 12, 99, -1])
def test_unsupported_or_out_of_order_codes(code: int) -> None:
    with pytest.raises(AuthFailed, match="unsupported upstream authentication"):
        UpstreamAuth("u", "pw").respond(code, b"")


@pytest.mark.parametrize("code", [10, 11, 12])
def test_non_utf8_sasl_payload_is_auth_failed(code: int) -> None:
    auth = UpstreamAuth("u", "pw")
    if code != 10:
        auth.respond(10, b"SCRAM-SHA-256\0\0")
    if code == 12:
        server = _scram_server("pw")
        initial = UpstreamAuth("u", "pw")
        first = initial.respond(10, b"SCRAM-SHA-256\0\0")
        assert first is not None
        server.set_client_first(m.parse_sasl_initial(first)[1].decode())
        initial.respond(11, server.get_server_first().encode())
        auth = initial
    with pytest.raises(AuthFailed):
        auth.respond(code, b"\xff\xfe\0")
