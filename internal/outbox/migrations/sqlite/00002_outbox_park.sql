-- +goose Up
-- A row that keeps failing while the rows around it are published (a
-- message no stream takes, one too large), for several passes and a
-- while, is parked: passes leave it out,
-- so it holds neither the batch nor the relay's backoff, and it is tried
-- again now and then (outbox.Options.ParkedRetry).
ALTER TABLE bam_outbox ADD COLUMN lone_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bam_outbox ADD COLUMN failing_since TIMESTAMP; -- its first failure of its own
ALTER TABLE bam_outbox ADD COLUMN parked_at TIMESTAMP;

-- +goose Down
ALTER TABLE bam_outbox DROP COLUMN parked_at;
ALTER TABLE bam_outbox DROP COLUMN failing_since;
ALTER TABLE bam_outbox DROP COLUMN lone_failures;
