-- +goose Up
-- Events written in the same transaction as the change they announce, until
-- the relay has published them (then the row is deleted).
CREATE TABLE bam_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,      -- event id, sent as Nats-Msg-Id
    subject    TEXT NOT NULL,             -- event type = NATS subject
    payload    BLOB NOT NULL,             -- CloudEvents structured JSON
    headers    TEXT NOT NULL DEFAULT '{}', -- NATS headers as JSON: trace context at enqueue time
    created_at TIMESTAMP NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);

-- +goose Down
DROP TABLE bam_outbox;
