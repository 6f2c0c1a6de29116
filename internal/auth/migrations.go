package auth

import (
	"embed"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

// schema is the auth service's own tables (users, sessions, refresh tokens,
// roles, clients, API keys, codes, MFA, identities, audit).
var schema = store.Embedded("auth", migrationFiles, "migrations")
