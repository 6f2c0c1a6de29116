-- +goose Up
-- The auth service's JWT signing keys. Exactly one is active (retired_at IS
-- NULL): it signs. Retired keys sign nothing but stay in the JWKS until
-- expires_at, when the last token they signed has expired; Prune deletes them
-- after that.
CREATE TABLE auth_signing_keys (
    kid          TEXT PRIMARY KEY,  -- RFC 7638 thumbprint of the public key
    alg          TEXT NOT NULL,     -- JWS alg: EdDSA or ES256
    private_key  BLOB NOT NULL,     -- PKCS #8, AES-256-GCM sealed, kid as associated data
    public_jwk   TEXT NOT NULL,     -- the JWKS entry, JSON
    created_at   TIMESTAMP NOT NULL,
    activated_at TIMESTAMP NOT NULL,
    retired_at   TIMESTAMP,         -- stops signing
    expires_at   TIMESTAMP,         -- stops being published
    CHECK ((retired_at IS NULL) = (expires_at IS NULL))
);
-- At most one active key, whoever inserts it: replicas racing to create or
-- rotate one lose with a unique violation and look again.
CREATE UNIQUE INDEX auth_signing_keys_one_active ON auth_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- +goose Down
DROP TABLE auth_signing_keys;
