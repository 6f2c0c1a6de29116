package schema

import (
	"github.com/bamhq/bam/internal/content/expr"
)

// Each returns the rules by operation name (list, view, create, update,
// delete), in that order.
func (r *Rules) Each() []NamedRule {
	return []NamedRule{{"list", r.List}, {"view", r.View}, {"create", r.Create}, {"update", r.Update}, {"delete", r.Delete}}
}

// NamedRule is one rule of a collection.
type NamedRule struct {
	Op   string
	Rule *string // nil: admins only
}

// validateRules parses each rule and checks it against the definition as
// it would be (c among others).
func (c *Collection) validateRules(p *problems, others *Snapshot) {
	var view *Snapshot
	for _, r := range c.Rules.Each() {
		if r.Rule == nil {
			continue
		}
		path := "rules." + r.Op
		if len(*r.Rule) > MaxRuleLength {
			p.add(path, "too_long", "at most %d bytes", MaxRuleLength)
			continue
		}
		n, err := expr.Parse(*r.Rule)
		if err != nil {
			p.add(path, "invalid_rule", "%v", err)
			continue
		}
		if n == nil {
			continue
		}
		if view == nil {
			view = others.with(c)
		}
		if err := expr.Check(n, view, c.Name); err != nil {
			p.add(path, "invalid_rule", "%v", err)
		}
	}
}

// checkDependents reports the rules of other collections that next, the
// new definition of a collection in snap, would break: a rule following a
// relation into it (author.name) whose field was renamed or dropped.
func checkDependents(p *problems, snap *Snapshot, next *Collection) {
	after := snap.with(next)
	for _, o := range snap.All() {
		if o.Name == next.Name {
			continue
		}
		for _, r := range o.Rules.Each() {
			if r.Rule == nil {
				continue
			}
			n, err := expr.Parse(*r.Rule)
			if err != nil || n == nil || expr.Check(n, snap, o.Name) != nil {
				continue // not this change's doing
			}
			if err := expr.Check(n, after, o.Name); err != nil {
				p.add("fields", "in_use", "the %s rule of collection %q would break: %v", r.Op, o.Name, err)
			}
		}
	}
}
