-- +goose Up
-- Events a consumer has applied, written in the transaction of the effect:
-- a redelivered event finds its row and is not applied twice.
CREATE TABLE bam_inbox (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX bam_inbox_processed_at ON bam_inbox (processed_at);

-- Events a consumer gave up on: malformed, or failing MaxDeliver times.
CREATE TABLE bam_dead_letters (
    id         TEXT PRIMARY KEY,
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,  -- Nats-Msg-Id, or stream:<seq> when there is none
    subject    TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    error      TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (consumer, event_id)
);

-- +goose Down
DROP TABLE bam_dead_letters;
DROP TABLE bam_inbox;
