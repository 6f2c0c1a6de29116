-- +goose Up
-- Users: people who sign in. email is stored normalised (lower-case, NFKC).
CREATE TABLE auth_users (
    id                TEXT PRIMARY KEY,          -- UUIDv7
    email             TEXT NOT NULL UNIQUE,
    email_verified_at TIMESTAMP,
    password_hash     TEXT,                      -- argon2id PHC string; NULL for social-only accounts
    data              TEXT NOT NULL DEFAULT '{}', -- user metadata (JSON object), set by the user
    app_data          TEXT NOT NULL DEFAULT '{}', -- metadata only admins set (JSON object)
    disabled_at       TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- Sessions: one per sign-in. Refresh tokens rotate inside a session; the
-- session is the token family that reuse detection revokes.
CREATE TABLE auth_sessions (
    id           TEXT PRIMARY KEY,               -- sid claim
    user_id      TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    aal          TEXT NOT NULL DEFAULT 'aal1',
    amr          TEXT NOT NULL DEFAULT '[]',     -- JSON array of methods
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    refreshed_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP,
    revoked_why  TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A used token points at its
-- successor; presenting it again after the grace window revokes the session.
CREATE TABLE auth_refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX auth_refresh_tokens_session ON auth_refresh_tokens (session_id);

-- Roles carry permissions ("content.posts.write", "admin").
CREATE TABLE auth_roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',      -- JSON array
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Role assignments of users and service accounts (subject = user id or client id).
CREATE TABLE auth_subject_roles (
    subject TEXT NOT NULL,
    role    TEXT NOT NULL REFERENCES auth_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (subject, role)
);

-- OAuth clients: service accounts (client_credentials) and apps using the
-- authorization-code flow.
CREATE TABLE auth_clients (
    id            TEXT PRIMARY KEY,              -- client_id
    name          TEXT NOT NULL,
    secret_hash   TEXT,                          -- NULL for public clients (PKCE only)
    kind          TEXT NOT NULL,                 -- 'service' or 'app'
    redirect_uris TEXT NOT NULL DEFAULT '[]',    -- JSON array
    created_at    TIMESTAMP NOT NULL,
    disabled_at   TIMESTAMP
);

-- API keys, stored hashed; prefix is shown in lists to recognise a key.
CREATE TABLE auth_api_keys (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    name         TEXT NOT NULL,
    owner_id     TEXT NOT NULL,                  -- the user or client that made it
    permissions  TEXT NOT NULL DEFAULT '[]',     -- JSON array, at most the owner's
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX auth_api_keys_owner ON auth_api_keys (owner_id);

-- Single-use codes and links: email verification, password recovery,
-- one-time sign-in codes and magic links, authorization codes. Hashed.
CREATE TABLE auth_codes (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    email      TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL DEFAULT '{}',       -- JSON: redirect, PKCE challenge, nonce, …
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX auth_codes_user ON auth_codes (user_id, kind);

-- MFA factors (TOTP), secrets encrypted at rest.
CREATE TABLE auth_mfa_factors (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,                   -- 'totp'
    secret      TEXT NOT NULL,
    verified_at TIMESTAMP,
    last_step   INTEGER NOT NULL DEFAULT 0,       -- last accepted TOTP step: no replay
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX auth_mfa_factors_user ON auth_mfa_factors (user_id);

CREATE TABLE auth_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    hash      TEXT NOT NULL,
    used_at   TIMESTAMP,
    PRIMARY KEY (user_id, hash)
);

-- External identities (OpenID Connect providers) linked to users.
CREATE TABLE auth_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX auth_identities_user ON auth_identities (user_id);

-- Audit trail of security-relevant actions.
CREATE TABLE auth_audit (
    id         TEXT PRIMARY KEY,                 -- UUIDv7: sorts by time
    at         TIMESTAMP NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',         -- user or client id, '' when anonymous
    action     TEXT NOT NULL,                    -- 'login.failed', 'session.revoked', …
    target     TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX auth_audit_actor ON auth_audit (actor, id);
CREATE INDEX auth_audit_action ON auth_audit (action, id);

-- +goose Down
DROP TABLE auth_audit;
DROP TABLE auth_identities;
DROP TABLE auth_recovery_codes;
DROP TABLE auth_mfa_factors;
DROP TABLE auth_codes;
DROP TABLE auth_api_keys;
DROP TABLE auth_clients;
DROP TABLE auth_subject_roles;
DROP TABLE auth_roles;
DROP TABLE auth_refresh_tokens;
DROP TABLE auth_sessions;
DROP TABLE auth_users;
