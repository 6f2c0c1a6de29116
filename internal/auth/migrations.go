package auth

import (
	"embed"
	"io/fs"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

// schema is the auth service's own tables (users, sessions, refresh tokens,
// roles, clients, API keys, codes, MFA, identities, audit).
var schema = store.MigrationSet{Name: "auth", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
