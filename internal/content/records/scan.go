package records

import (
	"context"
	"fmt"

	"github.com/bamhq/bam/internal/content/schema"
)

// Scan streams every record of c in id order to fn, without loading the
// table into memory (export).
//
// It reads Options.ScanBatch rows per query, each batch after the last id
// of the one before (keyset), and calls fn with no query open, so fn may
// use the database. Records written during the scan may or may not be
// seen; an error from fn stops the scan and is returned.
func (s *Store) Scan(ctx context.Context, c *schema.Collection, fn func(Record) error) error {
	m := s.meta(c)
	text := m.text("scan", func() string {
		return "SELECT " + m.selectAll + " FROM " + m.table + ` t WHERE t."id" > $1 ORDER BY t."id" LIMIT $2`
	})
	r := m.reader(m.all)
	batch := make([]Record, 0, s.batch)
	last := ""
	for {
		rows, err := s.query(ctx, s.db.SQL(), true, text, last, s.batch)
		if err != nil {
			return fmt.Errorf("records: scan %s: %w", c.Name, err)
		}
		batch = batch[:0]
		for rows.Next() {
			rec, err := r.next(rows)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, rec)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("records: scan %s: %w", c.Name, err)
		}
		for _, rec := range batch {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(batch) < s.batch {
			return nil
		}
		last = batch[len(batch)-1][fID].(string)
	}
}
