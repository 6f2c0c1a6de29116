package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestRankedSearchPlan: a ranked search over thousands of matches is read
// with the full-text table driving the query (SQLite: one bm25 pass over
// the matches, joined; never a correlated subquery per row, which costs
// a full match each), and the list answers.
func TestRankedSearchPlan(t *testing.T) {
	db := storetest.Open(t, store.SQLite, schema.Migrations)
	ctx := context.Background()
	reg := schema.NewRegistry(db)
	if err := reg.Load(ctx); err != nil {
		t.Fatal(err)
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		_, err := reg.Create(ctx, tx, schema.Collection{Name: "notes", Fields: []schema.Field{
			{Name: "body", Type: schema.Text, Searchable: true}, {Name: "n", Type: schema.Number}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := reg.Get("notes")
	s := New(db, reg)
	const n = 3000
	err = db.InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			if _, err := s.Insert(ctx, tx, c, map[string]any{"body": fmt.Sprintf("golang note %d", i), "n": float64(i)}, "", nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Search: "golang", Limit: 20, Count: true}
	m := s.meta(c)
	p, err := m.plan(q)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.where(c, q, p.order.ranked())
	if err != nil {
		t.Fatal(err)
	}
	text := m.listSQL(p, w, w.rank, orderBy(p.order, []string{w.rank, `t."id"`}), "", "21")
	rows, err := db.SQL().QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, w.args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	all := strings.Join(plan, "\n")
	if strings.Contains(all, "CORRELATED") || !strings.Contains(all, "VIRTUAL TABLE INDEX") {
		t.Errorf("the ranked search is not driven by the full-text table:\n%s\n%s", text, all)
	}
	page, err := s.List(ctx, c, q)
	if err != nil || len(page.Items) != 20 || page.TotalItems == nil || *page.TotalItems != n {
		t.Fatalf("list: %d items, total %v, %v", len(page.Items), page.TotalItems, err)
	}
}

// TestStatementTimeout: on PostgreSQL a list's queries run in read-only
// sessions under a statement_timeout of the store's query timeout, which
// stops a query even when no context deadline would (query_canceled), and
// reading reports running out of time as content.query_timeout.
func TestStatementTimeout(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := NewWithOptions(db, schema.NewRegistry(db), Options{QueryTimeout: 100 * time.Millisecond})
		if db.Dialect() == store.Postgres {
			start := time.Now()
			err := s.reading(context.Background(), func(ctx context.Context, q store.Querier) error {
				_, err := q.ExecContext(context.Background(), "SELECT pg_sleep(3)")
				return err
			})
			pg, ok := errors.AsType[*pgconn.PgError](err)
			if !ok || pg.Code != "57014" || time.Since(start) > 2*time.Second {
				t.Errorf("pg_sleep(3) under the statement timeout: %v after %s", err, time.Since(start))
			}
			err = s.reading(context.Background(), func(ctx context.Context, q store.Querier) error {
				_, err := q.ExecContext(ctx, "CREATE TABLE reading_writes (id int)")
				return err
			})
			if pg, ok := errors.AsType[*pgconn.PgError](err); !ok || pg.Code != "25006" {
				t.Errorf("a write while reading: %v, want read_only_sql_transaction (25006)", err)
			}
		}
		err := s.reading(context.Background(), func(ctx context.Context, q store.Querier) error {
			<-ctx.Done() // a query that outlives the deadline
			return ctx.Err()
		})
		if errs.KindOf(err) != errs.Timeout || errs.CodeOf(err) != CodeQueryTimeout {
			t.Errorf("a list past its time: %v (%s, %s), want content.query_timeout", err, errs.KindOf(err), errs.CodeOf(err))
		}
	}, schema.Migrations)
}
