-- +goose Up
-- The catalogue of collections: one row per collection, its definition as
-- JSON (fields, indexes, rules). Each collection's records are in its own
-- table c_<name>, created and altered by the service, not by migrations.
CREATE TABLE content_collections (
    id         TEXT PRIMARY KEY NOT NULL, -- UUIDv7
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,             -- JSON
    created    TEXT NOT NULL,             -- 2006-01-02T15:04:05.000Z
    updated    TEXT NOT NULL,
    version    INTEGER NOT NULL           -- 1 on create, +1 per change
);

-- One row counting committed schema changes: every change increments it
-- first (on PostgreSQL the row lock serialises changes), and replicas
-- compare it with theirs to know when to reload.
CREATE TABLE content_schema_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO content_schema_state (id, generation) VALUES (1, 0);

-- +goose Down
DROP TABLE content_schema_state;
DROP TABLE content_collections;
