-- +goose Up
-- The OAuth client a session was started for (the authorization code
-- grant); '' for bam's own sign-ins. Refreshing such a session needs that
-- client, and deleting the app revokes its sessions.
ALTER TABLE auth_sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
CREATE INDEX auth_sessions_client ON auth_sessions (client_id);

-- +goose Down
DROP INDEX auth_sessions_client;
ALTER TABLE auth_sessions DROP COLUMN client_id;
