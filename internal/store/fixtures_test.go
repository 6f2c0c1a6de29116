package store_test

import (
	"github.com/bamhq/bam/internal/store/storetest"
)

// migrations builds a fixture set serving both dialects.
var migrations = storetest.Migrations

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
