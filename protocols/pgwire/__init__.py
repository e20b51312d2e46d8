"""PostgreSQL v3 wire protocol, sans-IO: framing, the messages the relay inspects, builders."""
