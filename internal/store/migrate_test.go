package store_test

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()

		st, err := db.MigrationStatus(ctx, things, others)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 3 || st[0].Applied {
			t.Fatalf("status before Migrate = %+v, want 3 pending", st)
		}

		for i := range 2 { // the second run must be a no-op
			if err := db.Migrate(ctx, things, others); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
		}
		st, err = db.MigrationStatus(ctx, things, others)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.MigrationStatus{
			{Set: "things", Version: 1, Name: "00001_things.sql", Applied: true},
			{Set: "things", Version: 2, Name: "00002_add_note.sql", Applied: true},
			{Set: "others", Version: 1, Name: "00001_others.sql", Applied: true},
		}
		if len(st) != len(want) {
			t.Fatalf("status = %+v, want %d entries", st, len(want))
		}
		for i, w := range want {
			g := st[i]
			if g.Set != w.Set || g.Version != w.Version || g.Name != w.Name || !g.Applied || g.AppliedAt.IsZero() {
				t.Errorf("status[%d] = %+v, want %+v with AppliedAt set", i, g, w)
			}
		}

		// Each set keeps its own version table, so "others" version 1 did
		// not count as "things" version 1.
		for _, table := range []string{"goose_things", "goose_others"} {
			var n int
			if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE version_id > 0").Scan(&n); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if want := map[string]int{"goose_things": 2, "goose_others": 1}[table]; n != want {
				t.Errorf("%s has %d applied versions, want %d", table, n, want)
			}
		}
		if _, err := db.SQL().ExecContext(ctx, "INSERT INTO things (id, name, note) VALUES ($1, $2, $3)", 1, "a", "n"); err != nil {
			t.Fatalf("migrated schema unusable: %v", err)
		}
	})
}

func TestMigrateAppliesOnlyNewMigrations(t *testing.T) {
	t.Parallel()
	v1 := migrations("things", map[string]string{"00001_things.sql": createThings})
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		ctx := t.Context()
		if _, err := db.SQL().ExecContext(ctx, "INSERT INTO things (id, name) VALUES ($1, $2)", 1, "kept"); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, things); err != nil { // v1 + 00002
			t.Fatal(err)
		}
		var name string
		if err := db.SQL().QueryRowContext(ctx, "SELECT name FROM things WHERE note IS NULL").Scan(&name); err != nil || name != "kept" {
			t.Fatalf("after upgrade: name=%q err=%v, want the v1 row kept and note added", name, err)
		}
	}, v1)
}

func TestMigrateErrors(t *testing.T) {
	t.Parallel()
	broken := migrations("broken", map[string]string{
		"00001_ok.sql":     "-- +goose Up\nCREATE TABLE ok (id BIGINT);\n",
		"00002_broken.sql": "-- +goose Up\nCREATE TABLE oops (;\n",
	})
	tests := []struct {
		name string
		set  store.MigrationSet
		want []string // fragments of the error
	}{
		{"failing migration names set and file", broken, []string{`"broken"`, "00002_broken.sql"}},
		{"unsafe set name", store.MigrationSet{Name: "x; DROP TABLE y", FS: things.FS}, []string{"migration set name"}},
		{"upper-case set name", store.MigrationSet{Name: "Things", FS: things.FS}, []string{"migration set name"}},
		{"no FS", store.MigrationSet{Name: "empty"}, []string{`"empty"`, "no FS"}},
		{"no files for dialect", migrations("nofiles", nil), []string{`"nofiles"`, "no "}},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.Migrate(t.Context(), tt.set)
				if err == nil {
					t.Fatal("Migrate succeeded, want error")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			})
		}
		// The migration before the broken one stays applied.
		st, err := db.MigrationStatus(t.Context(), broken)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 2 || !st[0].Applied || st[1].Applied {
			t.Errorf("status after failure = %+v, want 00001 applied, 00002 pending", st)
		}
	})
}
