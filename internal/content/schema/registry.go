package schema

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Registry holds the collection definitions, persisted in the catalogue,
// and changes tables to match them. It implements expr.Schema over the
// committed definitions.
//
// Readers never lock: they load an immutable Snapshot from an atomic
// pointer. A change (Create, Update, Delete) runs in the caller's
// transaction and publishes its new snapshot only when that transaction
// commits; a rolled back change leaves the registry as it was.
type Registry struct {
	db  *store.DB
	now func() time.Time
	cur atomic.Pointer[Snapshot]
	mu  sync.Mutex // orders publishers: a snapshot never replaces a newer one
}

var _ expr.Schema = (*Registry)(nil)

// NewRegistry returns a registry over db (Migrations applied); call Load.
func NewRegistry(db *store.DB) *Registry {
	r := &Registry{db: db, now: time.Now}
	r.cur.Store(newSnapshot(-1, nil)) // older than any generation: the first Load publishes
	return r
}

// Snapshot returns the committed definitions as of now. Use one snapshot
// for work that must see a single state of the schema.
func (r *Registry) Snapshot() *Snapshot { return r.cur.Load() }

// publish makes s the current snapshot unless a newer one is there.
func (r *Registry) publish(s *Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.gen > r.cur.Load().gen {
		r.cur.Store(s)
	}
}

// Load (re)reads every definition from the database: at start, and when
// another replica changed one.
func (r *Registry) Load(ctx context.Context) error { return r.loadFrom(ctx, r.db.SQL()) }

func (r *Registry) loadFrom(ctx context.Context, q store.Querier) error {
	// The generation first: the definitions read next are then at least
	// that new, so a snapshot is never older than its generation says.
	gen, err := readGeneration(ctx, q)
	if err != nil {
		return err
	}
	cs, err := readCatalogue(ctx, q)
	if err != nil {
		return err
	}
	r.publish(newSnapshot(gen, cs))
	return nil
}

// Refresh reloads the definitions if another process changed them since
// the registry last saw them, and reports whether it did. It costs one
// small query: cheap enough to poll.
func (r *Registry) Refresh(ctx context.Context) (bool, error) { return r.RefreshFrom(ctx, r.db.SQL()) }

// RefreshFrom is Refresh reading through q: a transaction's, for a caller
// inside one (on SQLite with one connection, the pool has no other).
func (r *Registry) RefreshFrom(ctx context.Context, q store.Querier) (bool, error) {
	gen, err := readGeneration(ctx, q)
	if err != nil {
		return false, err
	}
	if gen <= r.cur.Load().gen {
		return false, nil
	}
	return true, r.loadFrom(ctx, q)
}

// Get returns the committed definition of name (shared: read-only).
func (r *Registry) Get(name string) (*Collection, bool) { return r.cur.Load().Get(name) }

// All returns the committed definitions ordered by name.
func (r *Registry) All() []*Collection { return r.cur.Load().All() }

// Field implements expr.Schema.
func (r *Registry) Field(collection, name string) (expr.Field, bool) {
	return r.cur.Load().Field(collection, name)
}

// Table implements expr.Schema.
func (r *Registry) Table(collection string) (string, bool) { return r.cur.Load().Table(collection) }

// begin starts a change in tx: it takes the catalogue lock and reads the
// definitions as committed (not as this process last saw them: another
// replica may have changed them).
func (r *Registry) begin(ctx context.Context, tx *store.Tx) (*Snapshot, error) {
	gen, err := bumpGeneration(ctx, tx)
	if err != nil {
		return nil, err
	}
	cs, err := readCatalogue(ctx, tx)
	if err != nil {
		return nil, err
	}
	return newSnapshot(gen, cs), nil
}

// exec runs statements in tx.
func exec(ctx context.Context, tx *store.Tx, stmts []string) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("schema: %s: %w", s, err)
		}
	}
	return nil
}

// Create validates c, creates its table, indexes and search index in tx,
// and records it; the registry sees it once tx commits. Field ids are
// assigned here. Errors: content.validation_failed,
// content.collection_exists, content.conflict when a lock stays taken
// (see LockTimeout).
func (r *Registry) Create(ctx context.Context, tx *store.Tx, c Collection) (*Collection, error) {
	var out *Collection
	err := boundedLocks(ctx, tx, c.Name, func() (err error) {
		out, err = r.create(ctx, tx, c)
		return err
	})
	return out, err
}

func (r *Registry) create(ctx context.Context, tx *store.Tx, c Collection) (*Collection, error) {
	snap, err := r.begin(ctx, tx)
	if err != nil {
		return nil, err
	}
	n := c.clone()
	if _, exists := snap.Get(n.Name); exists {
		return nil, errs.E(errs.Conflict, CodeExists, "collection %q exists", n.Name)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("schema: collection id: %w", err)
	}
	n.ID, n.Version = id.String(), 1
	for i := range n.Fields {
		n.Fields[i].ID = newID()
	}
	if err := n.Validate(snap); err != nil {
		return nil, err
	}
	now := r.now().UTC()
	n.Created = now.Format(expr.DateLayout)
	n.Updated = n.Created
	if err := exec(ctx, tx, n.DDL(tx.Dialect())); err != nil {
		return nil, err
	}
	if err := insertCatalogue(ctx, tx, n, now); err != nil {
		return nil, err
	}
	next := snap.with(n)
	tx.OnCommit(func() { r.publish(next) })
	return n.clone(), nil
}

// Update migrates collection name to definition c in tx (fields matched by
// id, else by name: new ones added, missing ones dropped, renamed ones
// renamed, data kept). c.Name must be name (or empty); a c.Version other
// than 0 must be the current version. The version goes up by one.
// Errors: content.not_found, content.validation_failed (including changes
// the data does not allow), content.precondition_failed, content.conflict
// when the table stays locked (see LockTimeout).
func (r *Registry) Update(ctx context.Context, tx *store.Tx, name string, c Collection) (*Collection, error) {
	var out *Collection
	err := boundedLocks(ctx, tx, name, func() (err error) {
		out, err = r.update(ctx, tx, name, c)
		return err
	})
	return out, err
}

func (r *Registry) update(ctx context.Context, tx *store.Tx, name string, c Collection) (*Collection, error) {
	snap, err := r.begin(ctx, tx)
	if err != nil {
		return nil, err
	}
	cur, ok := snap.Get(name)
	if !ok {
		return nil, notFound(name)
	}
	n := c.clone()
	if n.Name == "" {
		n.Name = name
	}
	if n.Version != 0 && n.Version != cur.Version {
		return nil, errs.E(errs.PreconditionFailed, CodePrecondition, "collection %q is at version %d, not %d", name, cur.Version, n.Version)
	}
	var p problems
	if n.Name != name {
		p.add("name", "immutable", "the name of a collection cannot change")
		n.Name = name // check the rest against the collection's own name
	}
	changes, dropped := matchFields(&p, cur, n)
	checkChanges(&p, changes)
	if err := n.Validate(snap); err != nil {
		p.fields = append(p.fields, errs.As(err).Fields...)
	}
	if !p.any() {
		checkDependents(&p, snap, n)
	}
	if !p.any() {
		if err := checkData(ctx, &p, tx, cur, changes); err != nil {
			return nil, err
		}
	}
	if err := p.err("invalid collection"); err != nil {
		return nil, err
	}
	n.ID, n.Created, n.Version = cur.ID, cur.Created, cur.Version+1
	now := r.now().UTC()
	n.Updated = now.Format(expr.DateLayout)
	if err := exec(ctx, tx, migration(cur, n, changes, dropped, tx.Dialect())); err != nil {
		return nil, err
	}
	if err := updateCatalogue(ctx, tx, n, now); err != nil {
		return nil, err
	}
	next := snap.with(n)
	tx.OnCommit(func() { r.publish(next) })
	return n.clone(), nil
}

// Delete drops collection name and its table in tx. Errors:
// content.not_found, content.conflict while another collection has a
// relation to it or when the table stays locked (see LockTimeout).
func (r *Registry) Delete(ctx context.Context, tx *store.Tx, name string) error {
	return boundedLocks(ctx, tx, name, func() error { return r.delete(ctx, tx, name) })
}

func (r *Registry) delete(ctx context.Context, tx *store.Tx, name string) error {
	snap, err := r.begin(ctx, tx)
	if err != nil {
		return err
	}
	cur, ok := snap.Get(name)
	if !ok {
		return notFound(name)
	}
	for _, ref := range snap.References(name) {
		if ref.Collection.Name != name {
			return errs.E(errs.Conflict, CodeConflict, "collection %q is referenced by %s.%s: remove that relation first",
				name, ref.Collection.Name, ref.Field.Name)
		}
	}
	if err := exec(ctx, tx, cur.DropDDL(tx.Dialect())); err != nil {
		return err
	}
	if err := deleteCatalogue(ctx, tx, cur.ID); err != nil {
		return err
	}
	next := snap.without(name)
	tx.OnCommit(func() { r.publish(next) })
	return nil
}

func notFound(name string) error {
	return errs.E(errs.NotFound, CodeNotFound, "no collection %q", name)
}
