package records

import (
	"database/sql"
	"fmt"
)

// rowReader turns the rows of a query selecting the columns idx of m into
// Records. Its scan buffers are allocated once per query and reused for
// every row.
type rowReader struct {
	m    *meta
	idx  []int
	vals []any
	dest []any
}

func (m *meta) reader(idx []int) *rowReader {
	r := &rowReader{m: m, idx: idx, vals: make([]any, len(idx)), dest: make([]any, len(idx))}
	for i := range r.vals {
		r.dest[i] = &r.vals[i]
	}
	return r
}

// next scans the current row into a new Record.
func (r *rowReader) next(rows *sql.Rows) (Record, error) {
	clear(r.vals)
	if err := rows.Scan(r.dest...); err != nil {
		return nil, fmt.Errorf("records: scan %s: %w", r.m.c.Name, err)
	}
	rec := make(Record, len(r.idx))
	for i, ci := range r.idx {
		col := &r.m.cols[ci]
		v, err := r.m.decode(col, r.vals[i])
		if err != nil {
			return nil, err
		}
		rec[col.name] = v
	}
	return rec, nil
}

// all reads every row and closes rows.
func (r *rowReader) all(rows *sql.Rows) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		rec, err := r.next(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: read %s: %w", r.m.c.Name, err)
	}
	return out, nil
}

// one reads at most one row and closes rows; nil when there is none.
func (r *rowReader) one(rows *sql.Rows) (Record, error) {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("records: read %s: %w", r.m.c.Name, err)
		}
		return nil, nil
	}
	rec, err := r.next(rows)
	if err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("records: read %s: %w", r.m.c.Name, err)
	}
	return rec, nil
}

// decode converts a scanned value of col to its JSON value
// (schema.Collection.Decode: numbers, version included, as float64).
func (m *meta) decode(col *column, v any) (any, error) {
	out, err := m.c.Decode(col.name, v)
	if err != nil {
		return nil, fmt.Errorf("records: decode %s.%s: %w", m.c.Name, col.name, err)
	}
	return out, nil
}
