package records_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// env is a records store over a fresh database of one dialect.
type env struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	reg   *schema.Registry
	s     *records.Store
	clock *testenv.Clock
}

// run runs fn on every dialect.
func run(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) { fn(t, newEnv(t, db)) }, schema.Migrations)
}

func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), db: db, reg: schema.NewRegistry(db),
		clock: testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	if err := e.reg.Load(e.ctx); err != nil {
		t.Fatal(err)
	}
	// Indexed for search only when a search needs it (no background pass
	// within a test): every search test shows that it finds what was
	// written before it.
	ix := schema.NewIndexer(db, schema.IndexerOptions{Delay: time.Hour})
	t.Cleanup(ix.Close)
	e.s = records.NewWithOptions(db, e.reg, records.Options{Now: e.clock.Now, Indexer: ix})
	return e
}

// collection creates c and returns its committed definition.
func (e *env) collection(c schema.Collection) *schema.Collection {
	e.t.Helper()
	err := e.db.InTx(e.ctx, func(tx *store.Tx) error {
		_, err := e.reg.Create(e.ctx, tx, c)
		return err
	})
	if err != nil {
		e.t.Fatalf("create collection %s: %v %v", c.Name, err, fieldsOf(err))
	}
	got, ok := e.reg.Get(c.Name)
	if !ok {
		e.t.Fatalf("collection %s not in the registry after commit", c.Name)
	}
	return got
}

// tx runs fn in a transaction.
func (e *env) tx(fn func(tx *store.Tx) error) error { return e.db.InTx(e.ctx, fn) }

// insert creates a record as owner (no rule), failing the test on error.
func (e *env) insert(c *schema.Collection, owner string, input map[string]any) records.Record {
	e.t.Helper()
	var rec records.Record
	err := e.tx(func(tx *store.Tx) (err error) {
		rec, err = e.s.Insert(e.ctx, tx, c, input, owner, nil)
		return err
	})
	if err != nil {
		e.t.Fatalf("insert into %s %v: %v", c.Name, input, err)
	}
	return rec
}

// insertMany creates records in one transaction and returns them.
func (e *env) insertMany(c *schema.Collection, n int, input func(i int) (owner string, in map[string]any)) []records.Record {
	e.t.Helper()
	out := make([]records.Record, 0, n)
	err := e.tx(func(tx *store.Tx) error {
		out = out[:0]
		for i := range n {
			owner, in := input(i)
			rec, err := e.s.Insert(e.ctx, tx, c, in, owner, nil)
			if err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// get reads a record without a rule; nil if it does not exist.
func (e *env) get(c *schema.Collection, id string) records.Record {
	e.t.Helper()
	rec, err := e.s.Get(e.ctx, e.db.SQL(), c, id, nil)
	if errs.KindOf(err) == errs.NotFound {
		return nil
	}
	if err != nil {
		e.t.Fatalf("get %s/%s: %v", c.Name, id, err)
	}
	return rec
}

// access returns an Access for rule (checked against c) and the caller's
// id and roles.
func (e *env) access(c *schema.Collection, rule, user string, roles ...string) *records.Access {
	e.t.Helper()
	return &records.Access{Rule: e.node(c, rule), Auth: auth(user, roles...)}
}

// node parses and checks an expression over c.
func (e *env) node(c *schema.Collection, src string) expr.Node {
	e.t.Helper()
	n, err := expr.Parse(src)
	if err != nil {
		e.t.Fatalf("parse %q: %v", src, err)
	}
	if err := expr.Check(n, e.reg, c.Name); err != nil {
		e.t.Fatalf("check %q: %v", src, err)
	}
	return n
}

func auth(user string, roles ...string) expr.Auth {
	if user == "" {
		return expr.Auth{}
	}
	rs := make([]any, len(roles))
	for i, r := range roles {
		rs[i] = r
	}
	return expr.Auth{"id": user, "roles": rs}
}

// wantCode fails the test unless err is an *errs.Error of kind and code.
func wantCode(t testing.TB, err error, kind errs.Kind, code string) *errs.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s (%s)", code, kind)
	}
	e := errs.As(err)
	if e == nil || errs.KindOf(err) != kind || errs.CodeOf(err) != code {
		t.Fatalf("error %v (kind %s, code %s), want %s (%s)", err, errs.KindOf(err), errs.CodeOf(err), code, kind)
	}
	return e
}

// hasField reports whether e has a field error on field with code.
func hasField(e *errs.Error, field, code string) bool {
	for _, f := range e.Fields {
		if f.Field == field && (code == "" || f.Code == code) {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// posts is the collection most tests use.
func posts() schema.Collection {
	return schema.Collection{
		Name: "posts",
		Fields: []schema.Field{
			{Name: "title", Type: schema.Text, Required: true, Max: ptr(200.0), Searchable: true},
			{Name: "body", Type: schema.Text, Searchable: true},
			{Name: "views", Type: schema.Number, Integer: true},
			{Name: "score", Type: schema.Number},
			{Name: "published", Type: schema.Bool},
			{Name: "due", Type: schema.Date},
			{Name: "tags", Type: schema.Select, Multi: true, Values: []string{"go", "sql", "web"}},
			{Name: "meta", Type: schema.JSON},
			{Name: "slug", Type: schema.Text, Unique: true},
			{Name: "author", Type: schema.Owner},
		},
		Indexes: [][]string{{"published", "views"}},
	}
}

func fieldsOf(err error) []errs.FieldError {
	if e := errs.As(err); e != nil {
		return e.Fields
	}
	return nil
}
