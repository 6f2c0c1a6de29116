package records

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bamhq/bam/internal/content/schema"
)

// System fields: every table starts with these columns, in this order.
const (
	fID      = "id"
	fCreated = "created"
	fUpdated = "updated"
	fVersion = "version"
)

// nSystem is the number of system columns.
const nSystem = 4

// column is one column of a collection's table as the store uses it.
type column struct {
	name  string        // field name, as the API shows it
	sql   string        // quoted column, qualified by the alias t: t."views"
	bare  string        // quoted column alone: "views"
	field *schema.Field // nil for system fields
}

// system reports whether col is one of id, created, updated, version.
func (col *column) system() bool { return col.field == nil }

// meta is what the store derives once from one definition of a collection:
// its columns and the SQL texts that depend only on the definition. Texts
// that also depend on the shape of a request (projection, sort, the columns
// an update sets) are built on first use and kept in shapes.
type meta struct {
	c      *schema.Collection
	table  string // quoted table name
	cols   []column
	byName map[string]int

	selectAll string // every column, t-qualified, in table order
	all       []int  // 0..len(cols)-1: the indexes selectAll reads
	getByID   string // SELECT every column WHERE t.id = $1

	relations []int // indexes of relation columns
	owners    []int // indexes of owner columns

	shapes  sync.Map     // shape key → SQL text
	nshapes atomic.Int32 // entries in shapes
}

// maxShapes bounds the SQL texts cached per collection definition: sorts
// and projections come from clients, and their combinations are many.
// Past the bound, texts are built on every use.
const maxShapes = 2000

// meta returns the store's view of c, built once per definition (id and
// version) of the collection.
func (s *Store) meta(c *schema.Collection) *meta {
	if v, ok := s.metas.Load(c.Name); ok {
		m := v.(*meta)
		if m.c == c || (c.ID != "" && m.c.ID == c.ID && m.c.Version == c.Version) {
			return m
		}
	}
	m := newMeta(c)
	s.metas.Store(c.Name, m)
	return m
}

func newMeta(c *schema.Collection) *meta {
	m := &meta{c: c, table: quote(schema.Table(c.Name)), byName: make(map[string]int, nSystem+len(c.Fields))}
	add := func(name string, f *schema.Field) {
		m.byName[name] = len(m.cols)
		m.cols = append(m.cols, column{name: name, sql: "t." + quote(name), bare: quote(name), field: f})
	}
	for _, name := range [...]string{fID, fCreated, fUpdated, fVersion} {
		add(name, nil)
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		switch f.Type {
		case schema.Relation:
			m.relations = append(m.relations, len(m.cols))
		case schema.Owner:
			m.owners = append(m.owners, len(m.cols))
		}
		add(f.Name, f)
	}
	m.all = make([]int, len(m.cols))
	sel := make([]string, len(m.cols))
	for i := range m.cols {
		m.all[i] = i
		sel[i] = m.cols[i].sql
	}
	m.selectAll = strings.Join(sel, ", ")
	m.getByID = "SELECT " + m.selectAll + " FROM " + m.table + " t WHERE t.\"id\" = $1"
	return m
}

// column returns the column of field name, if the collection has it.
func (m *meta) column(name string) (*column, bool) {
	i, ok := m.byName[name]
	if !ok {
		return nil, false
	}
	return &m.cols[i], true
}

// text returns the SQL text cached under key, building it with build on
// first use.
func (m *meta) text(key string, build func() string) string {
	if v, ok := m.shapes.Load(key); ok {
		return v.(string)
	}
	t := build()
	if m.nshapes.Add(1) <= maxShapes {
		m.shapes.Store(key, t)
	}
	return t
}

// quote quotes an identifier for both dialects. Collection and field names
// are [a-z][a-z0-9_]*, but may be keywords ("order", "group").
func quote(name string) string { return `"` + name + `"` }
