package schema_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// TestRegistrySeesCommitsOnly: a change is invisible to readers until its
// transaction commits, and a rolled back one never appears (nor its
// table).
func TestRegistrySeesCommitsOnly(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		boom := errors.New("boom")
		err := e.db.InTx(e.ctx(), func(tx *store.Tx) error {
			if _, err := e.reg.Create(e.ctx(), tx, schema.Collection{Name: "notes", Fields: []schema.Field{{Name: "text", Type: schema.Text}}}); err != nil {
				return err
			}
			if _, ok := e.reg.Get("notes"); ok {
				t.Error("registry sees a collection before its transaction commits")
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, ok := e.reg.Get("notes"); ok || e.tableExists("c_notes") {
			t.Fatal("rolled back create is visible")
		}
		if _, f := e.reg.Field("notes", "text"); f {
			t.Fatal("Field resolves a rolled back collection")
		}

		e.create(schema.Collection{Name: "notes", Fields: []schema.Field{{Name: "text", Type: schema.Text}}})
		if f, ok := e.reg.Field("notes", "text"); !ok || f.Column != "text" {
			t.Fatalf("Field after commit = %+v, %v", f, ok)
		}
		if tb, ok := e.reg.Table("notes"); !ok || tb != "c_notes" {
			t.Fatalf("Table = %q, %v", tb, ok)
		}

		// A rolled back update leaves definition, version and table as
		// they were.
		err = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
			c := e.edit("notes")
			c.Fields = append(c.Fields, schema.Field{Name: "extra", Type: schema.Bool})
			if _, err := e.reg.Update(e.ctx(), tx, "notes", c); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if c, _ := e.reg.Get("notes"); c.Version != 1 || len(c.Fields) != 1 {
			t.Errorf("after rolled back update: %+v", c)
		}
		for _, col := range e.columns("notes") {
			if col == "extra" {
				t.Error("rolled back column exists")
			}
		}
		// A rolled back delete leaves it there.
		_ = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
			if err := e.reg.Delete(e.ctx(), tx, "notes"); err != nil {
				t.Error(err)
			}
			return boom
		})
		if _, ok := e.reg.Get("notes"); !ok || !e.tableExists("c_notes") {
			t.Error("rolled back delete took effect")
		}
	})
}

// TestRegistryReplicas: a second registry on the same database (another
// replica) sees changes after Load or Refresh, not before.
func TestRegistryReplicas(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		other := schema.NewRegistry(e.db)
		if err := other.Load(e.ctx()); err != nil {
			t.Fatal(err)
		}
		if changed, err := other.Refresh(e.ctx()); err != nil || changed {
			t.Fatalf("Refresh with nothing new = %v, %v", changed, err)
		}
		created := e.create(allTypes("posts"))
		if _, ok := other.Get("posts"); ok {
			t.Fatal("other replica sees the change before reloading")
		}
		if changed, err := other.Refresh(e.ctx()); err != nil || !changed {
			t.Fatalf("Refresh after a change = %v, %v", changed, err)
		}
		got, ok := other.Get("posts")
		if !ok || got.ID != created.ID || got.Version != 1 || len(got.Fields) != len(created.Fields) || got.Created != created.Created {
			t.Fatalf("reloaded = %+v\nwant %+v", got, created)
		}
		for i := range got.Fields {
			if got.Fields[i].ID != created.Fields[i].ID || got.Fields[i].ID == "" {
				t.Errorf("field %d id %q, want %q", i, got.Fields[i].ID, created.Fields[i].ID)
			}
		}
		if got.Fields[12].OnDelete != schema.SetNull || got.OnUserDeleted != schema.DeleteOwned {
			t.Errorf("options lost in the catalogue: %+v", got)
		}
		// An update made through the other replica is matched by field id.
		c := copyCollection(got)
		c.Fields[0].Name = "heading"
		if _, err := e.tryUpdateWith(other, "posts", c); err != nil {
			t.Fatal(describe(err))
		}
		if err := e.reg.Load(e.ctx()); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.reg.Get("posts"); p.Fields[0].Name != "heading" || p.Fields[0].ID != created.Fields[0].ID || p.Version != 2 {
			t.Errorf("after the other replica's rename: %+v", p.Fields[0])
		}
		if e.reg.Snapshot().Generation() != other.Snapshot().Generation() {
			t.Errorf("generations differ: %d vs %d", e.reg.Snapshot().Generation(), other.Snapshot().Generation())
		}
	})
}

func (e *env) tryUpdateWith(reg *schema.Registry, name string, c schema.Collection) (out *schema.Collection, err error) {
	err = e.db.InTx(e.ctx(), func(tx *store.Tx) error {
		out, err = reg.Update(e.ctx(), tx, name, c)
		return err
	})
	return out, err
}

// TestRegistryConcurrentReaders: while a writer adds fields one update at
// a time, readers always see a whole definition: version v has exactly
// the fields f1..f(v-1), through Get and through Field (run with -race).
func TestRegistryConcurrentReaders(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		e.create(schema.Collection{Name: "grow"})
		const updates = 15
		var done atomic.Bool
		var wg sync.WaitGroup
		var seen atomic.Int64
		for range 4 {
			wg.Go(func() {
				for !done.Load() {
					snap := e.reg.Snapshot()
					c, ok := snap.Get("grow")
					if !ok {
						t.Error("collection vanished")
						return
					}
					if len(c.Fields) != int(c.Version)-1 {
						t.Errorf("half state: version %d with %d fields", c.Version, len(c.Fields))
						return
					}
					for i, f := range c.Fields {
						if f.Name != fmt.Sprintf("f%d", i+1) {
							t.Errorf("field %d = %q", i, f.Name)
						}
						if _, ok := snap.Field("grow", f.Name); !ok {
							t.Errorf("snapshot Field does not resolve %s", f.Name)
						}
					}
					seen.Store(max(seen.Load(), c.Version))
				}
			})
		}
		for i := 1; i <= updates; i++ {
			c := e.edit("grow")
			c.Fields = append(c.Fields, schema.Field{Name: fmt.Sprintf("f%d", i), Type: schema.Text})
			e.update("grow", c)
		}
		done.Store(true)
		wg.Wait()
		if c, _ := e.reg.Get("grow"); c.Version != updates+1 || len(c.Fields) != updates {
			t.Errorf("final = version %d, %d fields", c.Version, len(c.Fields))
		}
	})
}

// TestConcurrentWriters: two registries (replicas) changing the same
// collection at once are serialised by the catalogue; with versions as
// preconditions, a writer that lost the race is told so, retries, and no
// change is lost.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		t.Parallel()
		e.create(schema.Collection{Name: "shared"})
		regs := []*schema.Registry{e.reg, schema.NewRegistry(e.db)}
		var wg sync.WaitGroup
		var conflicts atomic.Int64
		for w, reg := range regs {
			wg.Go(func() {
				for i := range 5 {
					name := fmt.Sprintf("w%d_%d", w, i)
					for {
						if err := reg.Load(e.ctx()); err != nil {
							t.Error(err)
							return
						}
						cur, _ := reg.Get("shared")
						c := copyCollection(cur) // keeps Version: the precondition
						c.Fields = append(c.Fields, schema.Field{Name: name, Type: schema.Bool})
						_, err := e.tryUpdateWith(reg, "shared", c)
						if errs.CodeOf(err) == schema.CodePrecondition {
							conflicts.Add(1)
							continue
						}
						if err != nil {
							t.Errorf("writer %d: %v", w, describe(err))
						}
						break
					}
				}
			})
		}
		wg.Wait()
		if err := e.reg.Load(e.ctx()); err != nil {
			t.Fatal(err)
		}
		c, _ := e.reg.Get("shared")
		if c.Version != 11 || len(c.Fields) != 10 {
			t.Errorf("version %d with %d fields, want 11 and 10 (%d conflicts retried)", c.Version, len(c.Fields), conflicts.Load())
		}
		if got := len(e.columns("shared")); got != 10+len(schema.SystemFields)+sqliteRowID(e) {
			t.Errorf("table has %d columns", got)
		}
	})
}

func sqliteRowID(e *env) int {
	if e.db.Dialect() == store.SQLite {
		return 1
	}
	return 0
}
