package schema

import (
	"context"
	"fmt"
	"slices"

	"github.com/bamhq/bam/internal/store"
)

// change pairs a field of the new definition with the field it continues
// in the old one (nil for a new field).
type change struct {
	index int    // in the new definition
	old   *Field // nil: added
	new   *Field
}

// matchFields pairs the fields of next with those of cur: by id, else by
// name. Fields of next are given their ids (kept, or new ones). It returns
// the pairs in next's order and the fields of cur that are gone.
func matchFields(p *problems, cur, next *Collection) (changes []change, dropped []*Field) {
	byID := map[string]*Field{}
	for i := range cur.Fields {
		byID[cur.Fields[i].ID] = &cur.Fields[i]
	}
	claimed := map[string]bool{}
	changes = make([]change, len(next.Fields))
	for i := range next.Fields {
		f := &next.Fields[i]
		changes[i] = change{index: i, new: f}
		if f.ID == "" {
			continue
		}
		old, ok := byID[f.ID]
		if claimed[f.ID] {
			continue // a duplicate id: Validate reports it
		}
		if !ok {
			p.add(fmt.Sprintf("fields[%d].id", i), "not_found", "no field of %q has id %q (leave id out to add a field)", cur.Name, f.ID)
			continue
		}
		claimed[f.ID] = true
		changes[i].old = old
	}
	for i := range changes {
		ch := &changes[i]
		if ch.new.ID != "" {
			continue
		}
		if old, ok := cur.Field(ch.new.Name); ok && !claimed[old.ID] {
			claimed[old.ID] = true
			ch.old = old
			ch.new.ID = old.ID
		} else {
			ch.new.ID = newID()
		}
	}
	for i := range cur.Fields {
		if !claimed[cur.Fields[i].ID] {
			dropped = append(dropped, &cur.Fields[i])
		}
	}
	return changes, dropped
}

// checkChanges rejects the changes a migration cannot make in place: a
// field's type, multi, integer or relation target.
func checkChanges(p *problems, changes []change) {
	for _, ch := range changes {
		o, n := ch.old, ch.new
		if o == nil {
			continue
		}
		path := fmt.Sprintf("fields[%d]", ch.index)
		switch {
		case o.Type != n.Type:
			p.add(path+".type", "immutable", "the type of %q cannot change (%s → %s); add a new field and copy the data", o.Name, o.Type, n.Type)
		case o.IsMulti() != n.IsMulti():
			p.add(path+".multi", "immutable", "multi of %q cannot change; add a new field and copy the data", o.Name)
		case o.Type == Number && o.Integer != n.Integer:
			p.add(path+".integer", "immutable", "integer of %q cannot change; add a new field and copy the data", o.Name)
		case o.Type == Relation && o.Collection != n.Collection:
			p.add(path+".collection", "immutable", "the target of %q cannot change; add a new field", o.Name)
		}
	}
}

// checkData rejects changes the rows of the table do not allow: a new
// required field when there are rows, a field newly required while some
// rows have none, a field newly unique while some values repeat. It runs
// before any statement, on the old columns.
func checkData(ctx context.Context, p *problems, q store.Querier, cur *Collection, changes []change) error {
	table := quote(Table(cur.Name))
	for _, ch := range changes {
		path := fmt.Sprintf("fields[%d]", ch.index)
		switch {
		case ch.old == nil && ch.new.Required:
			var rows bool
			if err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+")").Scan(&rows); err != nil {
				return fmt.Errorf("schema: count rows of %s: %w", cur.Name, err)
			}
			if rows {
				p.add(path+".required", "has_records",
					"cannot add required field %q to a collection that has records: add it optional, fill it, then make it required", ch.new.Name)
			}
		case ch.old != nil && ch.new.Required && !ch.old.Required:
			var n int64
			if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+quote(ch.old.Name)+" IS NULL").Scan(&n); err != nil {
				return fmt.Errorf("schema: count nulls of %s.%s: %w", cur.Name, ch.old.Name, err)
			}
			if n > 0 {
				p.add(path+".required", "has_nulls", "%d records have no %s; fill them before making it required", n, ch.old.Name)
			}
		}
		if ch.old != nil && ch.new.Unique && !ch.old.Unique {
			col := quote(ch.old.Name)
			var n int64
			err := q.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT "+col+" FROM "+table+" WHERE "+col+
				" IS NOT NULL GROUP BY "+col+" HAVING count(*) > 1) d").Scan(&n)
			if err != nil {
				return fmt.Errorf("schema: count duplicates of %s.%s: %w", cur.Name, ch.old.Name, err)
			}
			if n > 0 {
				p.add(path+".unique", "has_duplicates", "%d values of %s occur in more than one record; make them unique first", n, ch.old.Name)
			}
		}
	}
	return nil
}

// migration returns the statements that turn cur's table into next's,
// keeping the data. Order matters: indexes and full-text objects that use
// a column go before it does (SQLite refuses to drop an indexed column),
// and come back once the columns are final.
//
// An index is named after its columns' names (indexName), so an index
// whose name both definitions have is kept — unless one of its columns is
// renamed or dropped, or its name passes to another field: a database
// index follows its column through a rename, so the index of that name
// would cover another field than next says. Those are made again, and so
// is the full-text index when a searchable column is among them.
func migration(cur, next *Collection, changes []change, dropped []*Field, d store.Dialect) []string {
	table := "ALTER TABLE " + quote(Table(cur.Name))
	var stmts []string

	moved := map[string]bool{} // column names whose field changes: renamed from or to, or dropped
	for _, ch := range changes {
		if ch.old != nil && ch.old.Name != ch.new.Name {
			moved[ch.old.Name], moved[ch.new.Name] = true, true
		}
	}
	for _, f := range dropped {
		moved[f.Name] = true
	}
	touches := func(cols []string) bool { return slices.ContainsFunc(cols, func(c string) bool { return moved[c] }) }
	curIx, nextIx := cur.TableIndexes(), next.TableIndexes()
	kept := func(ix Index, other []Index) bool {
		return !touches(ix.Columns) && slices.ContainsFunc(other, func(o Index) bool { return o.Name == ix.Name })
	}
	for _, ix := range curIx {
		if !kept(ix, nextIx) {
			stmts = append(stmts, dropIndex(ix.Name))
		}
	}
	searchChanged := !slices.Equal(cur.SearchFields(), next.SearchFields()) ||
		touches(cur.SearchFields()) || touches(next.SearchFields())
	if searchChanged {
		stmts = append(stmts, dropSearch(cur, d)...)
	}
	for _, f := range dropped {
		stmts = append(stmts, table+" DROP COLUMN "+quote(f.Name))
	}
	// Renames go through temporary names, so that swapping two names works.
	var renamed []change
	for _, ch := range changes {
		if ch.old != nil && ch.old.Name != ch.new.Name {
			renamed = append(renamed, ch)
		}
	}
	for _, ch := range renamed {
		stmts = append(stmts, table+" RENAME COLUMN "+quote(ch.old.Name)+" TO "+quote(tempName(ch)))
	}
	for _, ch := range renamed {
		stmts = append(stmts, table+" RENAME COLUMN "+quote(tempName(ch))+" TO "+quote(ch.new.Name))
	}
	for _, ch := range changes {
		if ch.old == nil {
			stmts = append(stmts, table+" ADD COLUMN "+columnDef(ch.new, d))
		}
	}
	for _, ix := range nextIx {
		if !kept(ix, curIx) {
			stmts = append(stmts, createIndex(next.Name, ix, d))
		}
	}
	if searchChanged {
		stmts = append(stmts, createSearch(next, d)...)
	}
	return stmts
}

// tempName is a column name no field can have (field names start with a
// letter).
func tempName(ch change) string { return fmt.Sprintf("_mig_%d", ch.index) }
