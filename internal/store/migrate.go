package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationSet is the schema history of one component: a service, the outbox,
// the inbox. Each set records what it applied in its own version table,
// goose_<Name>, so components evolve independently in one database.
type MigrationSet struct {
	// Name identifies the set: lower-case letters, digits and '_', starting
	// with a letter, at most 57 bytes (the table name must fit 63).
	Name string
	// FS holds sqlite/*.sql and postgres/*.sql: goose SQL migrations
	// (NNNNN_name.sql with "-- +goose Up" and "-- +goose Down" sections),
	// usually an embed.FS.
	FS fs.FS
}

// MigrationStatus is the state of one migration of a set.
type MigrationStatus struct {
	Set       string
	Version   int64
	Name      string // file name, e.g. "00001_users.sql"
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

var setName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,56}$`)

// Migrate applies the pending migrations of each set, in order. Applied
// migrations are skipped, so running it again is a no-op. On PostgreSQL each
// set is migrated under an advisory lock, so replicas starting together apply
// each migration once.
func (db *DB) Migrate(ctx context.Context, sets ...MigrationSet) error {
	for _, set := range sets {
		p, err := db.provider(set)
		if err != nil {
			return err
		}
		if _, err := p.Up(ctx); err != nil {
			if pe, ok := errors.AsType[*goose.PartialError](err); ok && pe.Failed != nil && pe.Failed.Source != nil {
				return fmt.Errorf("store: migrate %q (%s): %s: %w", set.Name, db.dialect, path.Base(pe.Failed.Source.Path), pe.Err)
			}
			return fmt.Errorf("store: migrate %q (%s): %w", set.Name, db.dialect, err)
		}
	}
	return nil
}

// MigrationStatus lists every migration of the sets, applied or pending.
func (db *DB) MigrationStatus(ctx context.Context, sets ...MigrationSet) ([]MigrationStatus, error) {
	var out []MigrationStatus
	for _, set := range sets {
		p, err := db.provider(set)
		if err != nil {
			return nil, err
		}
		st, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: migration status %q (%s): %w", set.Name, db.dialect, err)
		}
		for _, s := range st {
			out = append(out, MigrationStatus{
				Set:       set.Name,
				Version:   s.Source.Version,
				Name:      path.Base(s.Source.Path),
				Applied:   s.State == goose.StateApplied,
				AppliedAt: s.AppliedAt,
			})
		}
	}
	return out, nil
}

// quiet discards goose's logging: Migrate's caller decides what to report.
var quiet = slog.New(slog.DiscardHandler)

// provider returns a goose provider for set on this database. Providers are
// cheap (they read the FS and hold no connection), so one is made per call.
func (db *DB) provider(set MigrationSet) (*goose.Provider, error) {
	if !setName.MatchString(set.Name) {
		return nil, fmt.Errorf("store: migration set name %q: want lower-case letters, digits and '_', starting with a letter, at most 57 bytes", set.Name)
	}
	if set.FS == nil {
		return nil, fmt.Errorf("store: migration set %q has no FS", set.Name)
	}
	dir := string(db.dialect)
	sub, err := fs.Sub(set.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migration set %q: %w", set.Name, err)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName("goose_" + set.Name),
		goose.WithDisableGlobalRegistry(true), // no Go migrations registered by init()
		goose.WithSlog(quiet),
	}
	gd := goose.DialectSQLite3
	if db.dialect == Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(db.lockID(set.Name)),
			lock.WithLockTimeout(1, 300), // poll every second, give up after 5 minutes
			lock.WithUnlockTimeout(1, 60),
		)
		if err != nil {
			return nil, fmt.Errorf("store: migration set %q: %w", set.Name, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db.sql, sub, opts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return nil, fmt.Errorf("store: migration set %q has no %s/*.sql migrations", set.Name, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("store: migration set %q (%s): %w", set.Name, db.dialect, err)
	}
	return p, nil
}

// lockID is the advisory lock guarding one set's version table in one
// schema: replicas of a service contend for it, other services and other
// schemas (parallel tests) do not.
func (db *DB) lockID(set string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "bam/migrate/%s/%s", db.schema, set)
	return int64(h.Sum64())
}

// Embedded returns the migration set name whose files are under dir of an
// embedded file system (`//go:embed migrations` → Embedded("x", files,
// "migrations")). A missing dir is a programming error: it panics at start.
func Embedded(name string, files fs.FS, dir string) MigrationSet {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(fmt.Sprintf("store: migrations %s: %v", name, err))
	}
	return MigrationSet{Name: name, FS: sub}
}
