package store_test

import (
	"testing/fstest"

	"github.com/bamhq/bam/internal/store"
)

// migrations builds a MigrationSet whose files (name → body) serve both
// dialects: the fixtures stick to SQL the two share.
func migrations(name string, files map[string]string) store.MigrationSet {
	fsys := fstest.MapFS{}
	for path, body := range files {
		fsys["sqlite/"+path] = &fstest.MapFile{Data: []byte(body)}
		fsys["postgres/"+path] = &fstest.MapFile{Data: []byte(body)}
	}
	return store.MigrationSet{Name: name, FS: fsys}
}

const createThings = `-- +goose Up
CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- +goose Down
DROP TABLE things;
`

const addNote = `-- +goose Up
ALTER TABLE things ADD COLUMN note TEXT;
-- +goose Down
ALTER TABLE things DROP COLUMN note;
`

// things is the set most tests use: one table with a unique column.
var things = migrations("things", map[string]string{
	"00001_things.sql":   createThings,
	"00002_add_note.sql": addNote,
})

var others = migrations("others", map[string]string{
	"00001_others.sql": `-- +goose Up
CREATE TABLE others (id BIGINT PRIMARY KEY);
-- +goose Down
DROP TABLE others;
`,
})
