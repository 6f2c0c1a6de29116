-- +goose Up
-- A row that keeps failing while the rows around it are published (a
-- message no stream takes, one too large) is parked: passes leave it out,
-- so it holds neither the batch nor the relay's backoff, and it is tried
-- again now and then (outbox.Options.ParkedRetry).
ALTER TABLE bam_outbox ADD COLUMN lone_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bam_outbox ADD COLUMN parked_at TIMESTAMP;

-- +goose Down
ALTER TABLE bam_outbox DROP COLUMN parked_at;
ALTER TABLE bam_outbox DROP COLUMN lone_failures;
