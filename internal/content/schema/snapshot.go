package schema

import (
	"maps"
	"slices"
	"strings"

	"github.com/bamhq/bam/internal/content/expr"
)

// Snapshot is an immutable set of collection definitions: what the
// registry publishes after each committed change. It implements
// expr.Schema. The definitions it holds are shared: never modify them.
type Snapshot struct {
	gen    int64
	byName map[string]*Collection
	sorted []*Collection
}

var _ expr.Schema = (*Snapshot)(nil)

// NewSnapshot returns a snapshot of the given definitions (generation 0),
// for validating a definition among others outside the registry.
func NewSnapshot(collections ...*Collection) *Snapshot { return newSnapshot(0, collections) }

func newSnapshot(gen int64, cs []*Collection) *Snapshot {
	s := &Snapshot{gen: gen, byName: make(map[string]*Collection, len(cs))}
	for _, c := range cs {
		s.byName[c.Name] = c
	}
	s.sorted = slices.SortedFunc(maps.Values(s.byName), func(a, b *Collection) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// Generation counts committed schema changes; a later snapshot has a
// larger one.
func (s *Snapshot) Generation() int64 {
	if s == nil {
		return 0
	}
	return s.gen
}

// Get returns the definition of collection name.
func (s *Snapshot) Get(name string) (*Collection, bool) {
	if s == nil {
		return nil, false
	}
	c, ok := s.byName[name]
	return c, ok
}

// All returns the definitions ordered by name.
func (s *Snapshot) All() []*Collection {
	if s == nil {
		return nil
	}
	return slices.Clone(s.sorted)
}

// Field implements expr.Schema: system fields and the fields of the
// collection.
func (s *Snapshot) Field(collection, name string) (expr.Field, bool) {
	c, ok := s.Get(collection)
	if !ok {
		return expr.Field{}, false
	}
	if f, ok := systemField(name); ok {
		return f, true
	}
	f, ok := c.Field(name)
	if !ok {
		return expr.Field{}, false
	}
	return f.exprField(), true
}

// Table implements expr.Schema.
func (s *Snapshot) Table(collection string) (string, bool) {
	if _, ok := s.Get(collection); !ok {
		return "", false
	}
	return Table(collection), true
}

// with returns a copy of s in which c replaces the collection of its name.
func (s *Snapshot) with(c *Collection) *Snapshot {
	cs := s.withoutList(c.Name)
	return newSnapshot(s.Generation(), append(cs, c))
}

// without returns a copy of s without collection name.
func (s *Snapshot) without(name string) *Snapshot {
	return newSnapshot(s.Generation(), s.withoutList(name))
}

func (s *Snapshot) withoutList(name string) []*Collection {
	var cs []*Collection
	for _, o := range s.All() {
		if o.Name != name {
			cs = append(cs, o)
		}
	}
	return cs
}

// Reference is a relation field pointing at a collection.
type Reference struct {
	Collection *Collection // the collection holding the field
	Field      *Field
}

// References lists the relation fields of every collection that point at
// target, its own self-relations included, ordered by collection name.
func (s *Snapshot) References(target string) []Reference {
	var out []Reference
	for _, c := range s.All() {
		for i := range c.Fields {
			f := &c.Fields[i]
			if f.Type == Relation && f.Collection == target {
				out = append(out, Reference{Collection: c, Field: f})
			}
		}
	}
	return out
}
