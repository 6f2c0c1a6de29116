package schema

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bamhq/bam/internal/store"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations create the collections catalogue.
var Migrations = store.Embedded("content_schema", migrationFiles, "migrations")

// bumpGeneration counts a schema change and returns the new generation.
// It is the first statement of every change: on PostgreSQL its row lock
// makes concurrent changes wait for each other, so each reads the
// catalogue as the previous one left it.
func bumpGeneration(ctx context.Context, tx *store.Tx) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, "UPDATE content_schema_state SET generation = generation + 1 WHERE id = 1 RETURNING generation").Scan(&gen)
	if err != nil {
		return 0, fmt.Errorf("schema: lock catalogue: %w", err)
	}
	return gen, nil
}

func readGeneration(ctx context.Context, q store.Querier) (int64, error) {
	var gen int64
	if err := q.QueryRowContext(ctx, "SELECT generation FROM content_schema_state WHERE id = 1").Scan(&gen); err != nil {
		return 0, fmt.Errorf("schema: read generation: %w", err)
	}
	return gen, nil
}

// readCatalogue reads every definition.
func readCatalogue(ctx context.Context, q store.Querier) ([]*Collection, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, name, definition, created, updated, version FROM content_collections ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("schema: read catalogue: %w", err)
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		var (
			id, name, def    string
			created, updated any
			version          int64
		)
		if err := rows.Scan(&id, &name, &def, &created, &updated, &version); err != nil {
			return nil, fmt.Errorf("schema: read catalogue: %w", err)
		}
		c := &Collection{}
		if err := json.Unmarshal([]byte(def), c); err != nil {
			return nil, fmt.Errorf("schema: definition of %q: %w", name, err)
		}
		c.Normalize()
		c.ID, c.Name, c.Version = id, name, version
		if c.Created, err = dateText(created); err != nil {
			return nil, fmt.Errorf("schema: created of %q: %w", name, err)
		}
		if c.Updated, err = dateText(updated); err != nil {
			return nil, fmt.Errorf("schema: updated of %q: %w", name, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: read catalogue: %w", err)
	}
	return out, nil
}

// definitionJSON is what the catalogue stores of c: the definition without
// the row's own columns.
func definitionJSON(c *Collection) (string, error) {
	d := *c
	d.ID, d.Created, d.Updated, d.Version = "", "", "", 0
	b, err := json.Marshal(&d)
	if err != nil {
		return "", fmt.Errorf("schema: encode definition of %q: %w", c.Name, err)
	}
	return string(b), nil
}

func insertCatalogue(ctx context.Context, tx *store.Tx, c *Collection, now time.Time) error {
	def, err := definitionJSON(c)
	if err != nil {
		return err
	}
	at := dateArg(now, tx.Dialect())
	_, err = tx.ExecContext(ctx, "INSERT INTO content_collections (id, name, definition, created, updated, version) VALUES ($1, $2, $3, $4, $5, $6)",
		c.ID, c.Name, def, at, at, c.Version)
	if err != nil {
		return fmt.Errorf("schema: record %q: %w", c.Name, err)
	}
	return nil
}

func updateCatalogue(ctx context.Context, tx *store.Tx, c *Collection, now time.Time) error {
	def, err := definitionJSON(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE content_collections SET definition = $1, updated = $2, version = $3 WHERE id = $4",
		def, dateArg(now, tx.Dialect()), c.Version, c.ID)
	if err != nil {
		return fmt.Errorf("schema: record %q: %w", c.Name, err)
	}
	return nil
}

func deleteCatalogue(ctx context.Context, tx *store.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM content_collections WHERE id = $1", id); err != nil {
		return fmt.Errorf("schema: delete catalogue row: %w", err)
	}
	return nil
}
