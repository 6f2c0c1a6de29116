package schema_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// env is a registry over a fresh database of one dialect.
type env struct {
	t   *testing.T
	db  *store.DB
	reg *schema.Registry
	ix  *schema.Indexer // indexes inserts for search; nil: before they commit
}

// run runs fn on every dialect, each with a fresh catalogue.
func run(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		reg := schema.NewRegistry(db)
		if err := reg.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		fn(t, &env{t: t, db: db, reg: reg})
	}, schema.Migrations)
}

func (e *env) ctx() context.Context { return e.t.Context() }

// create creates c, failing the test on error.
func (e *env) create(c schema.Collection) *schema.Collection {
	e.t.Helper()
	out, err := e.tryCreate(c)
	if err != nil {
		e.t.Fatalf("create %s: %v", c.Name, describe(err))
	}
	return out
}

func (e *env) tryCreate(c schema.Collection) (out *schema.Collection, err error) {
	err = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		out, err = e.reg.Create(e.ctx(), tx, c)
		return err
	})
	return out, err
}

func (e *env) update(name string, c schema.Collection) *schema.Collection {
	e.t.Helper()
	out, err := e.tryUpdate(name, c)
	if err != nil {
		e.t.Fatalf("update %s: %v", name, describe(err))
	}
	return out
}

func (e *env) tryUpdate(name string, c schema.Collection) (out *schema.Collection, err error) {
	err = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		out, err = e.reg.Update(e.ctx(), tx, name, c)
		return err
	})
	return out, err
}

func (e *env) tryDelete(name string) error {
	return e.db.InTx(e.ctx(), func(tx *store.Tx) error { return e.reg.Delete(e.ctx(), tx, name) })
}

// edit returns a deep copy of the committed definition of name, to change
// and pass to update.
func (e *env) edit(name string) schema.Collection {
	e.t.Helper()
	c, ok := e.reg.Get(name)
	if !ok {
		e.t.Fatalf("no collection %s", name)
	}
	return copyCollection(c)
}

// insert encodes input and inserts it as a new record with raw SQL, as the
// records store would; it returns the id.
func (e *env) insert(c *schema.Collection, input map[string]any, owner string) string {
	e.t.Helper()
	var id string
	err := e.db.InTx(e.ctx(), func(tx *store.Tx) (err error) {
		id, err = e.insertIn(tx, c, input, owner)
		return err
	})
	if err != nil {
		e.t.Fatalf("insert into %s: %v", c.Name, describe(err))
	}
	return id
}

// tryInsert is insert returning the error (a unique violation) instead of
// failing the test.
func (e *env) tryInsert(c *schema.Collection, input map[string]any) (id string, err error) {
	err = e.db.InTx(e.ctx(), func(tx *store.Tx) (err error) {
		id, err = e.insertIn(tx, c, input, "")
		return err
	})
	return id, err
}

// insertIn inserts a record of c in tx, as the records store does, and
// returns its id.
func (e *env) insertIn(tx *store.Tx, c *schema.Collection, input map[string]any, owner string) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	cols, err := c.Encode(input, schema.Create, owner, tx.Dialect())
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	var at any = now.Format(expr.DateLayout)
	if tx.Dialect() == store.Postgres {
		at = now.Truncate(time.Millisecond)
	}
	names := []string{`"id"`, `"created"`, `"updated"`, `"version"`}
	args := []any{id, at, at, 1}
	for _, k := range sortedKeys(cols) {
		names = append(names, `"`+k+`"`)
		args = append(args, cols[k])
	}
	ph := make([]string, len(args))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	_, err = tx.ExecContext(e.ctx(), "INSERT INTO "+schema.Table(c.Name)+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...)
	e.ix.Inserted(tx, c)
	return id, err
}

// read reads record id of c back through Decode.
func (e *env) read(c *schema.Collection, id string) map[string]any {
	e.t.Helper()
	cols := c.Columns()
	q := make([]string, len(cols))
	for i, col := range cols {
		q[i] = `t."` + col + `"`
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := e.db.SQL().QueryRowContext(e.ctx(), "SELECT "+strings.Join(q, ", ")+" FROM "+schema.Table(c.Name)+" t WHERE t.id = $1", id).Scan(ptrs...); err != nil {
		e.t.Fatalf("read %s/%s: %v", c.Name, id, err)
	}
	out := map[string]any{}
	for i, col := range cols {
		v, err := c.Decode(col, vals[i])
		if err != nil {
			e.t.Fatalf("decode %s: %v", col, err)
		}
		out[col] = v
	}
	return out
}

// count counts the rows of a table matching where.
func (e *env) count(table, where string, args ...any) int {
	e.t.Helper()
	var n int
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := e.db.SQL().QueryRowContext(e.ctx(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// strings runs a query returning one text column, sorted.
func (e *env) strings(q string, args ...any) []string {
	e.t.Helper()
	out := e.ordered(q, args...)
	sort.Strings(out)
	return out
}

// ordered runs a query returning one text column, in the query's order.
func (e *env) ordered(q string, args ...any) []string {
	e.t.Helper()
	rows, err := e.db.SQL().QueryContext(e.ctx(), q, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// indexes lists the indexes of the collection's table as the database has
// them: name → column list (the primary key and SQLite's automatic
// indexes left out).
func (e *env) indexes(collection string) map[string]string {
	e.t.Helper()
	table := schema.Table(collection)
	out := map[string]string{}
	if e.db.Dialect() == store.Postgres {
		for _, name := range e.strings("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname <> $2", table, "p_"+collection) {
			var def string
			if err := e.db.SQL().QueryRowContext(e.ctx(), "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", name).Scan(&def); err != nil {
				e.t.Fatal(err)
			}
			out[name] = def[strings.LastIndex(def, "(")+1 : len(def)-1]
		}
		return out
	}
	for _, name := range e.strings("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND name NOT LIKE 'sqlite_autoindex_%'", table) {
		cols := e.ordered("SELECT name FROM pragma_index_info($1) ORDER BY seqno", name)
		out[name] = strings.Join(cols, ", ")
	}
	return out
}

// columns lists the table's columns as the database has them.
func (e *env) columns(collection string) []string {
	e.t.Helper()
	if e.db.Dialect() == store.Postgres {
		return e.strings("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", schema.Table(collection))
	}
	return e.strings("SELECT name FROM pragma_table_info($1)", schema.Table(collection))
}

// tableExists reports whether a table (or virtual table) exists.
func (e *env) tableExists(name string) bool {
	e.t.Helper()
	if e.db.Dialect() == store.Postgres {
		return e.count("information_schema.tables", "table_schema = current_schema() AND table_name = $1", name) == 1
	}
	return e.count("sqlite_master", "type = 'table' AND name = $1", name) == 1
}

// search returns the ids of c matching query, best first, through
// CompileSearch (the join form).
func (e *env) search(c *schema.Collection, query string) []string {
	e.t.Helper()
	s, err := schema.CompileSearch(c, e.db.Dialect(), query, 1)
	if err != nil {
		e.t.Fatalf("CompileSearch(%q): %v", query, err)
	}
	q := "SELECT t.id FROM " + schema.Table(c.Name) + " t " + s.Join
	if s.Cond != "" {
		q += " WHERE " + s.Cond
	}
	ids := e.ordered(q+" ORDER BY "+s.Rank+" DESC, t.id", s.Args...)
	// SearchSQL's condition and rank must agree with it.
	cond, rank, args, err := schema.SearchSQL(c, e.db.Dialect(), query, 1)
	if err != nil {
		e.t.Fatalf("SearchSQL(%q): %v", query, err)
	}
	if other := e.ordered("SELECT t.id FROM "+schema.Table(c.Name)+" t WHERE "+cond+" ORDER BY "+rank+" DESC, t.id", args...); !slices.Equal(ids, other) {
		e.t.Errorf("search %q: CompileSearch finds %v, SearchSQL %v", query, ids, other)
	}
	return ids
}

// fieldErrors returns the "path: code" pairs of a validation error.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Code != schema.CodeValidation {
		t.Fatalf("error %v: want a %s error", err, schema.CodeValidation)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+": "+f.Code)
	}
	return out
}

// describe renders an error with its field errors, for failure messages.
func describe(err error) string {
	e := errs.As(err)
	if e == nil || len(e.Fields) == 0 {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, f := range e.Fields {
		b.WriteString("\n  " + f.Field + " (" + f.Code + "): " + f.Message)
	}
	return b.String()
}

// rulesWork reports whether the expr package parses rules yet (it is
// written alongside this one).
func rulesWork() bool {
	_, err := expr.Parse(`id = "x"`)
	return !errors.Is(err, errors.ErrUnsupported)
}

func copyCollection(c *schema.Collection) schema.Collection {
	n := *c
	n.Fields = slices.Clone(c.Fields)
	for i := range n.Fields {
		n.Fields[i].Values = slices.Clone(n.Fields[i].Values)
	}
	n.Indexes = nil
	for _, ix := range c.Indexes {
		n.Indexes = append(n.Indexes, slices.Clone(ix))
	}
	return n
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }
