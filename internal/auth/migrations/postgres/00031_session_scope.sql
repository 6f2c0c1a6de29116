-- +goose Up
-- The OAuth scope granted to the client a session was started for (the
-- authorization code grant); '' for bam's own sign-ins. A client-bound
-- session's access tokens carry this scope and no roles or permissions.
ALTER TABLE auth_sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_sessions DROP COLUMN scope;
