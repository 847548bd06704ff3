-- 004: users and access (issue 14): people with a role, their sessions, API keys
-- for scripts, and the audit trail of every state-changing call. Secrets are never
-- stored in the clear: passwords as Argon2id strings, session ids and keys as
-- BLAKE2b hashes, TOTP secrets sealed with the token key (docs/SECURITY.md).

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9_.-]{1,64}$'),
    -- crypto_pwhash_str (Argon2id), with its parameters and salt inside
    pass_hash     text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    -- NULL: no TOTP; else hex of nonce || secretbox(base32 secret), the token key
    totp_secret   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE sessions (
    -- hex BLAKE2b-256 of the random session id; the id itself is only in the cookie
    id_hash      text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz,
    addr         text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    -- the key's first 8 characters ("piy_" and 4 more), for display
    hint         text NOT NULL,
    key_hash     text NOT NULL UNIQUE,   -- hex BLAKE2b-256 of the whole key
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- One live key per name, so 'key:NAME' in the audit names one key; a revoked
-- key's name may be used again.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,   -- 'user:alice', 'key:deploy', 'ctl:root'
    action text NOT NULL,   -- 'bot.update', 'settings.set', 'user.add', ...
    target text,
    before jsonb,           -- never a secret: no hash, key or TOTP secret
    after  jsonb,
    addr   text
);
CREATE INDEX audit_at ON audit (at);
