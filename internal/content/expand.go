package content

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
)

// Limits of expand=.
const (
	maxExpandDepth     = 3    // author.company.country
	maxExpandPaths     = 16   // comma-separated paths
	maxExpandPerRecord = 100  // related records per record and path
	maxExpandTotal     = 1000 // related records per response
)

// ExpandTruncatedHeader is set ("true") on a list or view whose expand=
// left related records out (see expand).
const ExpandTruncatedHeader = "Expand-Truncated"

// expansion is a parsed expand= parameter: a tree of relation fields. The
// relation values stay ids; the related records go under "expand", each
// shown only when its collection's view rule admits it for the caller.
type expansion struct {
	root *expandNode // nil: nothing to expand
	// hidden are relation fields added to a fields= projection only so
	// that they can be expanded; they are removed from the answer.
	hidden []string
}

// expandNode is one level: relation field name → what it leads to.
type expandNode map[string]*expandEdge

type expandEdge struct {
	field  schema.Field
	target *schema.Collection
	next   expandNode
}

// parseExpand reads "author,tags,author.company" against collection c.
func (s *Service) parseExpand(c *schema.Collection, raw string) (expansion, error) {
	paths, err := list(raw, "expand")
	if err != nil || len(paths) == 0 {
		return expansion{}, err
	}
	if len(paths) > maxExpandPaths {
		return expansion{}, invalid(CodeInvalidExpand, "expand", "expand lists more than %d paths", maxExpandPaths)
	}
	root := expandNode{}
	for _, path := range paths {
		segs := strings.Split(path, ".")
		if len(segs) > maxExpandDepth {
			return expansion{}, invalid(CodeInvalidExpand, "expand", "%s is deeper than %d levels", path, maxExpandDepth)
		}
		node, coll := root, c
		for _, seg := range segs {
			e := node[seg]
			if e == nil {
				f, ok := relationField(coll, seg)
				if !ok {
					return expansion{}, invalid(CodeInvalidExpand, "expand", "%s: %s is not a relation field of %s", path, seg, coll.Name)
				}
				target, ok := s.Registry.Get(f.Collection)
				if !ok {
					return expansion{}, invalid(CodeInvalidExpand, "expand", "%s: the collection %s is gone", path, f.Collection)
				}
				e = &expandEdge{field: f, target: target, next: expandNode{}}
				node[seg] = e
			}
			node, coll = e.next, e.target
		}
	}
	return expansion{root: &root}, nil
}

func relationField(c *schema.Collection, name string) (schema.Field, bool) {
	for _, f := range c.Fields {
		if f.Name == name && f.Type == schema.Relation {
			return f, true
		}
	}
	return schema.Field{}, false
}

// withRelations adds the fields ex expands at the top to a fields=
// projection that lacks them, and says which it added.
func withRelations(fields []string, ex expansion) ([]string, []string) {
	if len(fields) == 0 || ex.root == nil {
		return fields, nil
	}
	var hidden []string
	for name := range *ex.root {
		if !slices.Contains(fields, name) {
			fields = append(fields, name)
			hidden = append(hidden, name)
		}
	}
	return fields, hidden
}

// expand adds the related records ex asks for to items: per level one
// GetMany per relation for all items together, never a read per item.
// It reports whether it left some out: at most maxExpandPerRecord records
// per item and path (the first ones of a multi relation, in its order)
// and maxExpandTotal per response (relations met past that are not
// expanded). The handlers say so in the ExpandTruncatedHeader.
func (s *Service) expand(ctx context.Context, who caller, ex expansion, items []records.Record) (truncated bool, err error) {
	if ex.root == nil || len(items) == 0 {
		return false, nil
	}
	b := &expandBudget{left: maxExpandTotal}
	if err := s.expandLevel(ctx, who, *ex.root, items, b); err != nil {
		return false, err
	}
	for _, it := range items {
		for _, name := range ex.hidden {
			delete(it, name)
		}
	}
	return b.truncated, nil
}

// expandBudget is what is left of a response's expansion.
type expandBudget struct {
	left      int  // records that may still be expanded
	truncated bool // some were left out
}

// ids returns the related ids of item's relation name that may be
// expanded: the first maxExpandPerRecord.
func (b *expandBudget) ids(item records.Record, name string) []string {
	ids := relationIDs(item[name])
	if len(ids) > maxExpandPerRecord {
		b.truncated = true
		ids = ids[:maxExpandPerRecord]
	}
	return ids
}

func (s *Service) expandLevel(ctx context.Context, who caller, node expandNode, items []records.Record, b *expandBudget) error {
	for _, name := range slices.Sorted(maps.Keys(node)) {
		e := node[name]
		acc, ok := s.access(e.target, opView, who)
		if !ok {
			continue // only admins may see those records: none is shown
		}
		var ids []string
		seen := map[string]bool{}
		for _, it := range items {
			for _, id := range b.ids(it, name) {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		if len(ids) > b.left {
			b.truncated = true
			ids = ids[:b.left]
		}
		if len(ids) == 0 {
			continue
		}
		got, err := s.Records.GetMany(ctx, s.DB.SQL(), e.target, ids, acc)
		if err != nil {
			return err
		}
		b.left -= len(ids)
		if len(e.next) > 0 {
			if err := s.expandLevel(ctx, who, e.next, got, b); err != nil {
				return err
			}
		}
		byID := make(map[string]records.Record, len(got))
		for _, r := range got {
			byID[idOf(r)] = r
		}
		for _, it := range items {
			attach(it, name, e.field.Multi, b.ids(it, name), byID)
		}
	}
	return nil
}

// attach puts the records of ids found in byID under item["expand"][name]:
// one record for a single relation, a list in the relation's order for a
// multi one; nothing when none is visible.
func attach(item records.Record, name string, multi bool, ids []string, byID map[string]records.Record) {
	var v any
	if multi {
		var l []records.Record
		for _, id := range ids {
			if r, ok := byID[id]; ok {
				l = append(l, r)
			}
		}
		if len(l) > 0 {
			v = l
		}
	} else if len(ids) == 1 {
		if r, ok := byID[ids[0]]; ok {
			v = r
		}
	}
	if v == nil {
		return
	}
	ex, _ := item["expand"].(map[string]any)
	if ex == nil {
		ex = map[string]any{}
		item["expand"] = ex
	}
	ex[name] = v
}

// relationIDs reads a relation value: an id, a list of ids, or null.
func relationIDs(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if id, ok := e.(string); ok && id != "" {
				out = append(out, id)
			}
		}
		return out
	}
	return nil
}
