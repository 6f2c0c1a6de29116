package expr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/store"
)

// row is a record as JSON decodes it: string, float64, bool, nil, []any,
// map[string]any; dates in expr.DateLayout.
type row map[string]any

// dataset is the users and posts every differential test runs over.
type dataset struct {
	users, posts []row
	byID         map[string]map[string]row // collection → id → row
}

// testNow is @now in the differential tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// list is a JSON array (never nil: an empty list is [], not null).
func list(v ...any) []any { return append([]any{}, v...) }

// handUsers and handPosts are written out so that tests can state which
// rows an expression selects. Random posts (ids r01…) are added to them.
var handUsers = []row{
	{"id": "u1", "name": "Ann", "age": 30.0, "friend": "u2", "skills": list("go", "sql"), "profile": map[string]any{"bio": "Gopher"}},
	{"id": "u2", "name": "Bob", "age": 25.0, "friend": "u3", "skills": list(), "profile": nil},
	{"id": "u3", "name": "Çelik", "age": nil, "friend": "u1", "skills": list("Rust"), "profile": map[string]any{"tags": list("x", "Ünï")}},
	{"id": "u4", "name": nil, "age": 41.0, "friend": nil, "skills": nil, "profile": "plain"},
	{"id": "u5", "name": `O'Brien "Q"`, "age": 17.5, "friend": "u404", "skills": list("go"), "profile": nil},
	{"id": "u6", "name": "ann", "age": 30.0, "friend": "u6", "skills": list("Go"), "profile": list("ann", 1.0)},
}

var handPosts = []row{
	{"id": "h01", "title": "Hello World", "views": 10.0, "rating": 4.5, "published": true, "status": "draft",
		"created": "2026-01-15T10:00:00.000Z", "tags": list("go", "db"), "meta": map[string]any{"a": "hello", "n": 1.0},
		"author": "u1", "editors": list("u2", "u3")},
	{"id": "h02", "title": "hello again", "views": 0.0, "rating": 0.0, "published": false, "status": "published",
		"created": "2025-12-31T23:59:59.999Z", "tags": list(), "meta": nil, "author": "u2", "editors": list()},
	{"id": "h03"},
	{"id": "h04", "title": `100% pure_go\path`, "views": -5.0, "rating": -1.25, "published": true, "status": "published",
		"created": "2026-01-01T00:00:00.000Z", "tags": list("Go"), "meta": list(1.0, "Two", map[string]any{"x": "deep"}),
		"author": "u3", "editors": list("u1")},
	{"id": "h05", "title": "' OR 1=1 --", "views": 7.0, "published": true, "status": "draft",
		"created": "2026-02-01T00:00:00.000Z", "tags": list("sql", "go"), "meta": "string meta", "author": "u5", "editors": list("u404")},
	{"id": "h06", "title": "naïve café ÉCOLE", "views": 1000000.0, "rating": 3.14159, "published": false, "status": "archived",
		"created": "2026-03-01T12:00:00.000Z", "tags": list("rust"), "meta": map[string]any{"k": "CAFÉ"}, "author": "u4", "editors": list("u5", "u6")},
	{"id": "h07", "title": "Robert'); DROP TABLE c_posts;--", "views": 42.0, "published": true,
		"created": "2027-01-01T00:00:00.000Z", "tags": list("db"), "meta": map[string]any{}, "author": "u404"},
	{"id": "h08", "title": "", "views": 1.0, "published": false, "status": "draft",
		"created": "2026-01-15T10:00:00.000Z", "tags": list("go", "go"), "meta": map[string]any{"a": nil}, "author": "u6", "editors": list("u1", "u6")},
	{"id": "h09", "title": "MiXeD Case", "views": 10.0, "rating": 10.0, "published": true, "status": "published",
		"created": "2020-02-29T00:00:00.000Z", "tags": list("a_b", "c%d"), "meta": map[string]any{"q": "50% off"}, "author": "u1", "editors": list("u3")},
	{"id": "h10", "title": "tab\there\nnewline", "views": 3.0, "published": true, "tags": list("🙂"), "meta": list("🙂"), "author": "u2"},
	{"id": "h11", "title": "\u202erlt\u202c mark", "views": 5.0, "rating": 0.5, "status": "draft", "author": "u6", "editors": list("u6")},
	{"id": "h12", "title": "/* c */ ; -- x", "views": 99.0, "published": false, "created": "2026-02-28T23:59:59.000Z"},
	{"id": "h13", "title": "null", "status": "null", "views": 2.0, "published": true, "tags": list("null")},
	{"id": "h14", "title": "Ann", "views": 30.0, "published": true, "author": "u3", "editors": list("u2", "u404"), "status": "published"},
	{"id": "h15", "title": "B", "views": 11.0, "rating": 1e6, "created": "2026-02-15T08:30:00.000Z", "author": "u5"},
	{"id": "h16", "title": "a", "views": 9.0, "rating": -0.5, "published": false, "tags": list("B", "a"), "author": "u1"},
}

// randomPosts adds n posts r01… whose values come from pools that overlap
// the hand-written ones, so random expressions find rows.
func randomPosts(n int) []row {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...any) any { return vals[rng.IntN(len(vals))] }
	titles := []any{nil, "", "Hello World", "hello", "go", "Go gopher", "' OR 1=1 --", "naïve café", "ÉCOLE", "100%", "a_b",
		`back\slash`, "Ann", "ann", "zeta", "ß", "🙂 smile", "null", "Robert'); DROP TABLE c_posts;--", "\u200fRTL"}
	var out []row
	for i := 1; i <= n; i++ {
		r := row{"id": fmt.Sprintf("r%02d", i)}
		r["title"] = pick(titles...)
		if rng.IntN(5) > 0 {
			r["views"] = float64(rng.IntN(60) - 10)
		}
		if rng.IntN(3) > 0 {
			r["rating"] = float64(rng.IntN(200)-50) / 8
		}
		r["published"] = pick(nil, true, false)
		r["status"] = pick(nil, "draft", "published", "archived", "Draft")
		if rng.IntN(6) > 0 {
			d := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(900 * 24 * time.Hour))))
			r["created"] = d.Truncate(time.Millisecond).Format(expr.DateLayout)
		}
		r["tags"] = randomList(rng, []string{"go", "Go", "db", "rust", "sql", "a_b", "c%d", "null", "🙂"})
		r["meta"] = pick(nil, map[string]any{"a": "hello"}, list("x", 2.0), "go", map[string]any{"k": map[string]any{"deep": "Gopher"}}, 5.0, true)
		r["author"] = pick(nil, "u1", "u2", "u3", "u4", "u5", "u6", "u404")
		r["editors"] = randomList(rng, []string{"u1", "u2", "u3", "u4", "u5", "u6", "u404"})
		out = append(out, r)
	}
	return out
}

// randomList is nil, empty, or a few (possibly repeated) elements of pool.
func randomList(rng *rand.Rand, pool []string) any {
	switch rng.IntN(6) {
	case 0:
		return nil
	case 1:
		return list()
	}
	var l []any
	for range 1 + rng.IntN(3) {
		l = append(l, pool[rng.IntN(len(pool))])
	}
	return l
}

func newDataset() *dataset {
	ds := &dataset{users: handUsers, posts: append(slices.Clone(handPosts), randomPosts(44)...)}
	ds.byID = map[string]map[string]row{"users": {}, "posts": {}}
	for _, u := range ds.users {
		u["created"] = "2025-01-01T00:00:00.000Z"
		ds.byID["users"][u["id"].(string)] = u
	}
	for i, p := range ds.posts {
		p["version"] = float64(1 + i%3)
		p["updated"] = testNow.Add(-time.Duration(i) * time.Hour).Format(expr.DateLayout)
		ds.byID["posts"][p["id"].(string)] = p
	}
	return ds
}

// record is a row as Eval reads it, following relations through the
// dataset. With a viewer, related rows the viewer may not see are missing.
type record struct {
	ds         *dataset
	collection string
	row        row
	view       *viewer
	depth      int // relation hops from the row filtered
}

func (r record) Value(path []string) (any, bool) {
	v, ok := r.row[path[0]]
	if !ok || len(path) == 1 {
		return v, ok
	}
	f, _ := schema.Field(r.collection, path[0])
	next := func(id any) (any, bool) {
		s, _ := id.(string)
		target, ok := r.ds.byID[f.Target][s]
		if !ok {
			return nil, false
		}
		rel := record{ds: r.ds, collection: f.Target, row: target, view: r.view, depth: r.depth + 1}
		if !r.view.sees(rel) {
			return nil, false
		}
		return rel.Value(path[1:])
	}
	if !f.Multi {
		return next(v)
	}
	// A multi relation: one value per related record, flattened when the
	// rest of the path passes another multi relation.
	ids, _ := v.([]any)
	var out []any
	for _, id := range ids {
		x, ok := next(id)
		if !ok {
			continue
		}
		if inner, isList := x.([]any); isList && multiRelationAhead(f.Target, path[1:]) {
			out = append(out, inner...)
		} else {
			out = append(out, x)
		}
	}
	return out, true
}

// multiRelationAhead reports whether path, read from collection, follows
// a multi relation before its last name.
func multiRelationAhead(collection string, path []string) bool {
	for _, name := range path[:len(path)-1] {
		f, _ := schema.Field(collection, name)
		if f.Multi {
			return true
		}
		collection = f.Target
	}
	return false
}

// columns are the SQL column types per field kind, by dialect, as the
// content service's schema package makes them. On PostgreSQL, text
// columns get an ICU collation whose order is not byte order, so that a
// missing COLLATE "C" shows.
func columnType(d store.Dialect, f expr.Field, name string) string {
	sqlite := map[expr.Kind]string{expr.KindText: "TEXT", expr.KindNumber: "REAL", expr.KindBool: "INTEGER", expr.KindDate: "TEXT", expr.KindJSON: "TEXT"}
	pg := map[expr.Kind]string{expr.KindText: `TEXT COLLATE "und-x-icu"`, expr.KindNumber: "DOUBLE PRECISION", expr.KindBool: "BOOLEAN", expr.KindDate: "TIMESTAMPTZ", expr.KindJSON: "JSONB"}
	integer := name == "views" || name == "version" || name == "age"
	switch {
	case name == "id":
		return "TEXT PRIMARY KEY"
	case f.Multi && d == store.Postgres:
		return "JSONB"
	case f.Multi:
		return "TEXT"
	case integer && d == store.Postgres && name != "age":
		return "BIGINT"
	case integer && d == store.SQLite && name != "age":
		return "INTEGER"
	case d == store.Postgres:
		return pg[f.Kind]
	}
	return sqlite[f.Kind]
}

// load creates c_users and c_posts and inserts the dataset.
func (ds *dataset) load(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	for _, coll := range []string{"users", "posts"} {
		names := fieldNames(coll)
		cols := make([]string, len(names))
		for i, n := range names {
			cols[i] = n + " " + columnType(db.Dialect(), schema[coll][n], n)
		}
		if _, err := db.SQL().ExecContext(ctx, "CREATE TABLE c_"+coll+" ("+strings.Join(cols, ", ")+")"); err != nil {
			t.Fatal(err)
		}
		rows := ds.users
		if coll == "posts" {
			rows = ds.posts
		}
		for _, r := range rows {
			q, args := insert(db.Dialect(), coll, names, r)
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("insert %v: %v", r["id"], err)
			}
		}
	}
}

func fieldNames(coll string) []string {
	var names []string
	for n := range schema[coll] {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// insert builds the INSERT of one row, converting values as the records
// package stores them.
func insert(d store.Dialect, coll string, names []string, r row) (string, []any) {
	ps := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		f := schema[coll][n]
		v := r[n]
		ps[i] = fmt.Sprintf("$%d", i+1)
		switch {
		case f.Multi || f.Kind == expr.KindJSON:
			if v != nil {
				b, _ := json.Marshal(v)
				v = string(b)
			}
			if d == store.Postgres {
				ps[i] = fmt.Sprintf("CAST(CAST($%d AS text) AS jsonb)", i+1)
			}
		case f.Kind == expr.KindDate && v != nil && d == store.Postgres:
			v, _ = time.Parse(expr.DateLayout, v.(string))
		case f.Kind == expr.KindNumber && v != nil && columnType(d, f, n) != "REAL" && columnType(d, f, n) != "DOUBLE PRECISION":
			v = int64(v.(float64))
		}
		args[i] = v
	}
	return "INSERT INTO c_" + coll + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(ps, ", ") + ")", args
}

// selectIDs runs the condition over c_posts and returns the ids it keeps.
//
// On PostgreSQL it turns JIT off first: the planner's default estimate of
// 100 rows per jsonb_array_elements_text makes nested EXISTS look costly
// enough to be JIT-compiled, which takes seconds on this tiny table (and
// is why the store should run with jit=off, as OLTP databases usually do).
func selectIDs(t testing.TB, db *store.DB, cond string, args []any) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	var q store.Querier = db.SQL()
	if db.Dialect() == store.Postgres {
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "SET LOCAL jit = off"); err != nil {
			return nil, err
		}
		q = tx
	}
	rows, err := q.QueryContext(ctx, `SELECT "t"."id" FROM "c_posts" AS "t" WHERE `+cond+` ORDER BY "t"."id"`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// evalIDs returns the ids of the posts Eval keeps.
func (ds *dataset) evalIDs(t testing.TB, n expr.Node, auth expr.Auth) []string {
	t.Helper()
	return ds.evalIDsWith(t, n, auth, nil)
}

// evalIDsWith is evalIDs reading related rows through view.
func (ds *dataset) evalIDsWith(t testing.TB, n expr.Node, auth expr.Auth, view *viewer) []string {
	t.Helper()
	var ids []string
	for _, p := range ds.posts {
		ok, err := expr.EvalAt(n, record{ds: ds, collection: "posts", row: p, view: view}, auth, testNow)
		if err != nil {
			t.Fatalf("Eval(%s): %v", n, err)
		}
		if ok {
			ids = append(ids, p["id"].(string))
		}
	}
	slices.Sort(ids)
	return ids
}
