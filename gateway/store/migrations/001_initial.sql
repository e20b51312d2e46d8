-- The same three tables as the embedded SQLite store (gateway/store/sqlite.py).
CREATE TABLE sessions (
    id text PRIMARY KEY,
    protocol text NOT NULL,
    "user" text NOT NULL,
    "groups" text[] NOT NULL,
    target text NOT NULL,
    client_addr text NOT NULL,
    agent text NOT NULL,
    node text NOT NULL,
    started_at double precision NOT NULL,
    ended_at double precision,
    bytes_in bigint NOT NULL DEFAULT 0,
    bytes_out bigint NOT NULL DEFAULT 0,
    statements bigint NOT NULL DEFAULT 0,
    head_seq bigint NOT NULL DEFAULT 0,
    head_hash text NOT NULL DEFAULT '',
    token_id text
);
CREATE INDEX sessions_started ON sessions (started_at);
CREATE INDEX sessions_user ON sessions ("user", started_at);
CREATE TABLE tokens (
    id text PRIMARY KEY,
    "user" text NOT NULL,
    name text NOT NULL,
    hash text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision,
    revoked_at double precision
);
CREATE INDEX tokens_user ON tokens ("user");
CREATE TABLE docs (
    kind text NOT NULL,
    key text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (kind, key)
);
