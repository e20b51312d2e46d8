"""Writes to a Postgres client in TLS records no larger than PostgreSQL's own.

Why this exists (issue 19): libpq reads a TLS connection with ``SSL_read`` into at most the
free space of its input buffer, which it keeps at 8192 bytes or more, and an event-driven
client (psycopg's pure-Python and C wait loops, anything that polls the socket between
``PQconsumeInput`` calls) then waits for the *socket* to become readable. A TLS record
larger than that free space is only partly consumed: the rest is decrypted and held inside
OpenSSL, nothing more arrives on the socket, and the client waits forever for the end of a
result the gateway already sent. Seen with Debian's libpq 15.18 under psycopg's pure-Python
wait loop (a hang in about a third of psycopg's ``test_random`` runs); the libpq 18 bundled
in psycopg-binary drains OpenSSL's buffer itself, and libpq's own blocking calls check
``SSL_pending``, so neither hangs.

PostgreSQL never triggers this because its send buffer is 8192 bytes, so every record it
writes carries at most 8192 bytes of plaintext, which one ``SSL_read`` always takes whole.
Python's ``ssl`` encrypts one ``write`` into records of up to 16384 bytes and does not
expose ``SSL_CTX_set_max_send_fragment``, so the gateway cuts what it writes to a TLS
client into pieces of PostgreSQL's size: each piece becomes exactly one record. Plain TCP
has no records and keeps the single write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

RECORD_PLAINTEXT = 8192  # PostgreSQL's PQ_SEND_BUFFER_SIZE: the largest record a client sees


def client_writer(transport: asyncio.WriteTransport) -> Callable[[bytes], None]:
    """``transport.write``, or for TLS a write that never makes a record over 8192 bytes.

    Duck-typed on purpose: uvloop's transports do not subclass asyncio's classes.
    """
    write = transport.write
    if transport.get_extra_info("ssl_object") is None:
        return write
    writelines = transport.writelines

    def write_records(data: bytes) -> None:
        if len(data) <= RECORD_PLAINTEXT:
            write(data)
            return
        view = memoryview(data)
        writelines([view[i : i + RECORD_PLAINTEXT] for i in range(0, len(view), RECORD_PLAINTEXT)])

    return write_records
