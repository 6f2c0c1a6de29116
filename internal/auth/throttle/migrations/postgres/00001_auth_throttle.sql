-- +goose Up
-- Failed attempts per throttle key (an account or an IP prefix, per action),
-- shared by every replica of the auth service. Times are Unix milliseconds
-- (UTC), the same integers on both dialects, so the arithmetic is plain.
CREATE TABLE auth_throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,   -- failures in the current run
    window_start  BIGINT  NOT NULL,   -- first failure of the run
    last_failure  BIGINT  NOT NULL,   -- a run ends after Window without failures
    blocked_until BIGINT  NOT NULL    -- 0: not blocked
);
CREATE INDEX auth_throttle_last_failure ON auth_throttle (last_failure);

-- +goose Down
DROP TABLE auth_throttle;
