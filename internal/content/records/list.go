package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/store"
)

// List answers q over c.
//
// The rows are those the filter, the access rule and the search all admit.
// Keyset mode (the default) reads Limit+1 rows after the cursor, so
// NextCursor is set only when more follow, and a deep page costs what the
// first does. Page mode (Page > 0) reads PerPage rows at an offset; Count
// also counts every matching row (a second query: ask only when needed).
// Errors: content.invalid_sort for a bad sort; content.validation_failed
// for bad fields, limit, perPage or page; request.invalid_cursor for a
// cursor not made by this list's order; content.query_timeout (errs
// Timeout) when the queries take longer than Options.QueryTimeout.
func (s *Store) List(ctx context.Context, c *schema.Collection, q Query) (Page, error) {
	m := s.meta(c)
	p, err := m.plan(q)
	if err != nil {
		return Page{}, err
	}
	w, err := s.where(c, q, p.order.ranked())
	if err != nil {
		return Page{}, err
	}
	var items []Record
	var total *int64
	var cq countQuery
	if q.Count {
		// Before the rows are read: on a snapshot taken later, a count is
		// never kept under a generation older than what it saw.
		cq = s.countQuery(m, w)
	}
	err = s.reading(ctx, func(ctx context.Context, db store.Querier) error {
		if q.Search != "" {
			// After countQuery: a count kept under the generation it
			// read covers every record CatchUp indexes (Write notes the
			// indexer first).
			if err := s.index.CatchUp(ctx, c.Name); err != nil {
				return err
			}
		}
		if items, err = s.listRows(ctx, db, m, p, w, q.Cursor); err != nil || !q.Count {
			return err
		}
		n, err := s.count(ctx, db, m, w, cq)
		total = &n
		return err
	})
	if err != nil {
		return Page{}, err
	}

	out := Page{Items: items}
	switch {
	case p.paged:
		out.Page, out.PerPage = p.page, p.limit
	case len(items) <= p.limit:
	case offsetPaged(p.order, s.dialect):
		out.Items = items[:p.limit]
		off := 0
		if q.Cursor != "" {
			off, _ = decodeOffsetCursor(p.order, q.Cursor) // valid: listRows read it
		}
		out.NextCursor = encodeOffsetCursor(p.order, off+p.limit)
	default:
		out.Items = items[:p.limit]
		if out.NextCursor, err = encodeCursor(p.order, items[p.limit-1]); err != nil {
			return Page{}, fmt.Errorf("records: cursor: %w", err)
		}
	}
	for _, rec := range out.Items {
		for _, name := range p.hidden {
			delete(rec, name)
		}
		delete(rec, rankKey)
	}
	if out.Items == nil {
		out.Items = []Record{}
	}
	out.TotalItems = total
	return out, nil
}

// listRows reads the rows of plan p under the conditions w: one page, or
// in keyset mode up to limit+1 rows after cursor (the one more says
// whether a next page follows), reading the keyset's segments in turn.
func (s *Store) listRows(ctx context.Context, db store.Querier, m *meta, p plan, w filter, cursor string) ([]Record, error) {
	exprs := make([]string, len(p.order.keys))
	rank := "" // the rank expression, when the order uses it
	for i, k := range p.order.keys {
		if k.col != nil {
			exprs[i] = k.col.sql
		} else {
			exprs[i], rank = w.rank, w.rank
		}
	}
	args := w.args
	order := m.text("order|"+p.order.sig+"|"+rank, func() string { return orderBy(p.order, exprs) })
	query := func(more string, moreArgs []any, limit string) ([]Record, error) {
		text := m.listSQL(p, w, rank, order, more, limit)
		return s.read(ctx, db, m, p, rank != "", text, append(args[:len(args):len(args)], moreArgs...))
	}
	if p.paged {
		return query("", nil, strconv.Itoa(p.limit)+" OFFSET "+strconv.Itoa((p.page-1)*p.limit))
	}
	if cursor == "" {
		return query("", nil, strconv.Itoa(p.limit+1))
	}
	if offsetPaged(p.order, s.dialect) {
		off, err := decodeOffsetCursor(p.order, cursor)
		if err != nil {
			return nil, err
		}
		return query("", nil, strconv.Itoa(p.limit+1)+" OFFSET "+strconv.Itoa(off))
	}
	vals, id, err := decodeCursor(p.order, cursor, s.dialect)
	if err == nil && id != "" {
		vals, err = cursorValues(ctx, db, m, w, exprs, id)
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, seg := range m.keyset(p.order, exprs, vals, len(args)+1) {
		recs, err := query(seg.cond, seg.args, strconv.Itoa(p.limit+1-len(out)))
		if err != nil {
			return nil, err
		}
		if out = append(out, recs...); len(out) > p.limit {
			break
		}
	}
	return out, nil
}

// cursorValues reads the values of the sort keys exprs of row id, for a
// cursor that holds the id only. The row must still be one of the list's:
// it is read under the list's conditions w (filter and access rule), so a
// forged cursor naming a row the caller may not list tells nothing of it —
// gone, hidden or filtered out, the cursor is invalid.
func cursorValues(ctx context.Context, db store.Querier, m *meta, w filter, exprs []string, id string) ([]any, error) {
	vals := make([]any, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(exprs, ", ") + " FROM " + m.table + " t" + w.join)
	writeWhere(&b, append(w.conds[:len(w.conds):len(w.conds)], `t."id" = $`+strconv.Itoa(len(w.args)+1)))
	err := db.QueryRowContext(ctx, b.String(), append(w.args[:len(w.args):len(w.args)], id)...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, invalidCursor(errors.New("the record the cursor is after is not in the list"))
	}
	return vals, err
}

// listSQL is the text of one list query: the columns of p (and the rank,
// if any) of the rows w and the condition more admit, in order, limited.
func (m *meta) listSQL(p plan, w filter, rank, order, more, limit string) string {
	var b strings.Builder
	b.WriteString(m.selectList(p.read))
	if rank != "" {
		b.WriteString(", " + rank)
	}
	b.WriteString(" FROM " + m.table + " t" + w.join)
	conds := w.conds
	if more != "" {
		conds = append(conds[:len(conds):len(conds)], more)
	}
	writeWhere(&b, conds)
	b.WriteString(" ORDER BY " + order + " LIMIT " + limit)
	return b.String()
}

// filter is what restricts a list: the join and conditions, their
// arguments, and the rank expression of a search.
type filter struct {
	join  string // after "FROM <table> t": a search's FTS5 matches on SQLite
	conds []string
	args  []any // of join and conds; the rank uses no others
	rank  string
}

// where compiles the filter, the access rule and the search of q; ranked
// says whether the rank will be used. (The rank takes no argument of its
// own, so the count, which does not use it, binds the same ones:
// PostgreSQL refuses arguments a statement does not use.)
func (s *Store) where(c *schema.Collection, q Query, ranked bool) (filter, error) {
	var w filter
	add := func(cond string, args []any) {
		if cond != "" {
			w.conds = append(w.conds, cond)
			w.args = append(w.args, args...)
		}
	}
	cond, args, err := s.filter(c, q.Access, q.Filter, 1)
	if err != nil {
		return w, err
	}
	add(cond, args)
	if cond, args, err = s.rule(c, q.Access, len(w.args)+1); err != nil {
		return w, err
	}
	add(cond, args)
	if q.Search != "" {
		// The join form: SQLite's bm25 ranks every match in one pass
		// only while the FTS table drives the query (as a correlated
		// subquery per row it costs a full match each).
		sr, err := schema.CompileSearch(c, s.dialect, q.Search, len(w.args)+1)
		if err != nil {
			return w, err
		}
		if sr.Join != "" {
			w.join = " " + sr.Join
		}
		if sr.Cond != "" {
			w.conds = append(w.conds, sr.Cond)
		}
		w.args = append(w.args, sr.Args...)
		if ranked {
			w.rank = sr.Rank
		}
	}
	return w, nil
}

func writeWhere(b *strings.Builder, conds []string) {
	for i, c := range conds {
		if i == 0 {
			b.WriteString(" WHERE (")
		} else {
			b.WriteString(" AND (")
		}
		b.WriteString(c + ")")
	}
}

// orderBy is the ORDER BY of order o over the key expressions exprs. NULLs
// sort first ascending and last descending, on both dialects (SQLite's
// native order: PostgreSQL's indexes must be declared NULLS FIRST to serve
// it); keys that are never null leave the clause out, so that any index
// serves them.
func orderBy(o order, exprs []string) string {
	parts := make([]string, len(o.keys))
	for i, k := range o.keys {
		switch {
		case k.desc && k.nullable:
			parts[i] = exprs[i] + " DESC NULLS LAST"
		case k.desc:
			parts[i] = exprs[i] + " DESC"
		case k.nullable:
			parts[i] = exprs[i] + " ASC NULLS FIRST"
		default:
			parts[i] = exprs[i] + " ASC"
		}
	}
	return strings.Join(parts, ", ")
}

// read runs a list query whose columns are p.read (then the rank, if
// ranked) and returns its rows.
func (s *Store) read(ctx context.Context, db store.Querier, m *meta, p plan, ranked bool, text string, args []any) ([]Record, error) {
	rows, err := s.query(ctx, db, false, text, args...)
	if err != nil {
		return nil, fmt.Errorf("records: list %s: %w", m.c.Name, err)
	}
	defer rows.Close()
	r := m.reader(p.read)
	var rank float64
	if ranked {
		r.dest = append(r.dest, &rank)
	}
	out := make([]Record, 0, p.limit+1)
	for rows.Next() {
		rec, err := r.next(rows)
		if err != nil {
			return nil, err
		}
		if ranked {
			rec[rankKey] = rank
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: list %s: %w", m.c.Name, err)
	}
	return out, nil
}

// countQuery is the count of the rows w admits, and what the kept counts
// know of it (counts.go).
func (s *Store) countQuery(m *meta, w filter) countQuery {
	var b strings.Builder
	b.WriteString("SELECT COUNT(*) FROM " + m.table + " t" + w.join)
	writeWhere(&b, w.conds)
	return s.counts.lookup(b.String(), w.args)
}

// count gives the count kept for cq while the tables it reads have not
// changed, or counts.
func (s *Store) count(ctx context.Context, db store.Querier, m *meta, w filter, cq countQuery) (int64, error) {
	if cq.hit {
		return cq.n, nil
	}
	var n int64
	if err := db.QueryRowContext(ctx, cq.text, w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("records: count %s: %w", m.c.Name, err)
	}
	s.counts.keep(cq, n)
	return n, nil
}

// selectList is "SELECT" and the columns idx.
func (m *meta) selectList(idx []int) string {
	return m.text(shapeKey("sel", idx), func() string {
		cols := make([]string, len(idx))
		for i, ci := range idx {
			cols[i] = m.cols[ci].sql
		}
		return "SELECT " + strings.Join(cols, ", ")
	})
}

// maxPlaceholder returns the largest N of the placeholders $N in text, 0
// if there are none.
func maxPlaceholder(text string) int {
	most := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '$' {
			continue
		}
		n, j := 0, i+1
		for ; j < len(text) && text[j] >= '0' && text[j] <= '9'; j++ {
			n = n*10 + int(text[j]-'0')
		}
		most, i = max(most, n), j-1
	}
	return most
}
