-- +goose Up
-- The catalogue of collections: one row per collection, its definition as
-- JSON (fields, indexes, rules; TEXT keeps it byte for byte). Each
-- collection's records are in its own table c_<name>, created and altered
-- by the service, not by migrations.
CREATE TABLE content_collections (
    id         TEXT PRIMARY KEY,   -- UUIDv7
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,      -- JSON
    created    TIMESTAMPTZ NOT NULL,
    updated    TIMESTAMPTZ NOT NULL,
    version    BIGINT NOT NULL     -- 1 on create, +1 per change
);

-- One row counting committed schema changes: every change increments it
-- first (the row lock serialises changes), and replicas compare it with
-- theirs to know when to reload.
CREATE TABLE content_schema_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO content_schema_state (id, generation) VALUES (1, 0);

-- +goose Down
DROP TABLE content_schema_state;
DROP TABLE content_collections;
