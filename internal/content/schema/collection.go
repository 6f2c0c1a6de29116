package schema

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Normalize fills the defaults of c: an empty field list instead of none,
// onDelete "restrict" on relations, onUserDeleted "delete".
func (c *Collection) Normalize() {
	if c.Fields == nil {
		c.Fields = []Field{}
	}
	for i := range c.Fields {
		if f := &c.Fields[i]; f.Type == Relation && f.OnDelete == "" {
			f.OnDelete = Restrict
		}
	}
	if c.OnUserDeleted == "" {
		c.OnUserDeleted = DeleteOwned
	}
}

// Validate fills the defaults of c (Normalize) and checks it as a
// definition among the collections of others (which may hold an older
// definition of c: c replaces it). Every problem is reported at once in
// one *errs.Error (code content.validation_failed) whose field paths are
// those of the definition: "name", "fields[2].max", "indexes[0][1]",
// "rules.list".
func (c *Collection) Validate(others *Snapshot) error {
	c.Normalize()
	var p problems
	c.validateName(&p)
	c.validateFields(&p, others)
	c.validateIndexes(&p)
	c.validateRules(&p, others)
	switch c.OnUserDeleted {
	case DeleteOwned, AnonymizeOwned:
	default:
		p.add("onUserDeleted", "invalid", "must be %q or %q", DeleteOwned, AnonymizeOwned)
	}
	if c.OnUserDeleted == AnonymizeOwned {
		for i, f := range c.Fields {
			if f.Type == Owner && f.Required {
				p.add(fmt.Sprintf("fields[%d].required", i), "conflict",
					"an owner field cannot be required when onUserDeleted is %q (anonymizing sets it to null)", AnonymizeOwned)
			}
		}
	}
	return p.err("invalid collection")
}

func (c *Collection) validateName(p *problems) {
	switch {
	case c.Name == "":
		p.add("name", "required", "is required")
	case !namePattern.MatchString(c.Name):
		p.add("name", "invalid", "must be a lower-case letter followed by at most 47 lower-case letters, digits or '_'")
	case strings.HasSuffix(c.Name, "_fts") || strings.Contains(c.Name, "_fts_"):
		p.add("name", "invalid", "must not end in \"_fts\" nor contain \"_fts_\" (reserved for search tables)")
	}
}

func (c *Collection) validateFields(p *problems, others *Snapshot) {
	if len(c.Fields) > MaxFields {
		p.add("fields", "too_many", "at most %d fields", MaxFields)
	}
	names := map[string]int{}
	ids := map[string]int{}
	for i := range c.Fields {
		f := &c.Fields[i]
		path := fmt.Sprintf("fields[%d]", i)
		switch {
		case f.Name == "":
			p.add(path+".name", "required", "is required")
		case !namePattern.MatchString(f.Name):
			p.add(path+".name", "invalid", "must be a lower-case letter followed by at most 47 lower-case letters, digits or '_'")
		case IsSystem(f.Name):
			p.add(path+".name", "reserved", "%q is a system field", f.Name)
		case reserved[f.Name]:
			p.add(path+".name", "reserved", "%q is an SQL keyword; choose another name (e.g. %q)", f.Name, f.Name+"_")
		case f.Searchable && (f.Name == "rank" || f.Name == FTSTable(c.Name)):
			p.add(path+".name", "reserved", "a searchable field cannot be named %q (the full-text index uses it)", f.Name)
		default:
			if j, dup := names[f.Name]; dup {
				p.add(path+".name", "duplicate", "%q is also the name of fields[%d]", f.Name, j)
			}
			names[f.Name] = i
		}
		if f.ID != "" {
			if j, dup := ids[f.ID]; dup {
				p.add(path+".id", "duplicate", "is also the id of fields[%d]", j)
			}
			ids[f.ID] = i
		}
		f.validate(p, path, c, others)
	}
}

// validate checks the options of one field: each only where its type
// uses it.
func (f *Field) validate(p *problems, path string, c *Collection, others *Snapshot) {
	known := true
	switch f.Type {
	case Text, Number, Bool, Date, Email, URL, Select, JSON, Relation, File, Owner:
	case "":
		p.add(path+".type", "required", "is required")
		known = false
	default:
		p.add(path+".type", "invalid", "must be one of text, number, bool, date, email, url, select, json, relation, file, owner")
		known = false
	}
	only := func(opt string, set bool, ok bool, which string) {
		if set && !ok && known {
			p.add(path+"."+opt, "not_applicable", "only applies to %s fields", which)
		}
	}
	multi := f.IsMulti()
	only("multi", f.Multi, f.Type == Select || f.Type == Relation || f.Type == File, "select, relation and file")
	only("min", f.Min != nil, f.Type == Text || f.Type == Number || multi, "text, number and multi")
	only("max", f.Max != nil, f.Type == Text || f.Type == Number || multi, "text, number and multi")
	only("pattern", f.Pattern != "", f.Type == Text, "text")
	only("integer", f.Integer, f.Type == Number, "number")
	only("values", f.Values != nil, f.Type == Select, "select")
	only("collection", f.Collection != "", f.Type == Relation, "relation")
	only("onDelete", f.OnDelete != "", f.Type == Relation, "relation")
	only("searchable", f.Searchable, f.Type == Text || f.Type == Email || f.Type == URL || (f.Type == Select && !multi),
		"text, email, url and single select")
	only("unique", f.Unique, !f.IsJSON() && f.Type != Bool, "single-valued fields other than json and bool")
	f.validateBounds(p, path)
	if f.Type == Text && f.Pattern != "" {
		if len(f.Pattern) > MaxPatternLength {
			p.add(path+".pattern", "too_long", "at most %d bytes", MaxPatternLength)
		} else if _, err := regexp.Compile(f.Pattern); err != nil {
			p.add(path+".pattern", "invalid", "not a valid regular expression: %v", err)
		}
	}
	if f.Type == Select {
		f.validateValues(p, path)
	}
	if f.Type == Relation {
		switch {
		case f.Collection == "":
			p.add(path+".collection", "required", "is required")
		case f.Collection != c.Name:
			if _, ok := others.Get(f.Collection); !ok {
				p.add(path+".collection", "not_found", "no collection %q", f.Collection)
			}
		}
		switch f.OnDelete {
		case Restrict, Cascade:
		case SetNull:
			if f.Required {
				p.add(path+".onDelete", "conflict", "set_null cannot apply to a required field")
			}
		default:
			p.add(path+".onDelete", "invalid", "must be cascade, set_null or restrict")
		}
	}
}

// validateBounds checks min and max: lengths and counts are whole numbers
// in range; min ≤ max.
func (f *Field) validateBounds(p *problems, path string) {
	count := f.Type == Text || f.IsMulti()
	limit := float64(MaxListLength)
	if f.Type == Text {
		limit = MaxTextMax
	}
	check := func(name string, v *float64) bool {
		switch {
		case v == nil:
			return true
		case math.IsNaN(*v) || math.IsInf(*v, 0):
			p.add(path+"."+name, "invalid", "must be a finite number")
		case count && (*v < 0 || *v != math.Trunc(*v)):
			p.add(path+"."+name, "invalid", "must be a whole number ≥ 0")
		case count && *v > limit:
			p.add(path+"."+name, "too_large", "must be at most %v", limit)
		case f.Type == Number && f.Integer && *v != math.Trunc(*v):
			p.add(path+"."+name, "invalid", "must be a whole number (the field is integer)")
		default:
			return true
		}
		return false
	}
	okMin, okMax := check("min", f.Min), check("max", f.Max)
	if okMin && okMax && f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		p.add(path+".max", "invalid", "must be at least min (%v)", *f.Min)
	}
}

func (f *Field) validateValues(p *problems, path string) {
	switch {
	case len(f.Values) == 0:
		p.add(path+".values", "required", "a select field needs 1 to %d values", MaxSelectValues)
		return
	case len(f.Values) > MaxSelectValues:
		p.add(path+".values", "too_many", "at most %d values", MaxSelectValues)
		return
	}
	seen := map[string]int{}
	for j, v := range f.Values {
		vp := fmt.Sprintf("%s.values[%d]", path, j)
		switch {
		case v == "":
			p.add(vp, "required", "must not be empty")
		case utf8.RuneCountInString(v) > MaxSelectValue:
			p.add(vp, "too_long", "at most %d characters", MaxSelectValue)
		case strings.ContainsRune(v, 0):
			p.add(vp, "invalid", "must not contain NUL")
		}
		if k, dup := seen[v]; dup {
			p.add(vp, "duplicate", "%q is also values[%d]", v, k)
		}
		seen[v] = j
	}
}

// indexable reports whether name is a column an index may use: a system
// field or a field whose column is not JSON.
func (c *Collection) indexable(name string) (ok, exists bool) {
	if IsSystem(name) {
		return true, true
	}
	f, found := c.Field(name)
	if !found {
		return false, false
	}
	return !f.IsJSON(), true
}

func (c *Collection) validateIndexes(p *problems) {
	if len(c.Indexes) > MaxIndexes {
		p.add("indexes", "too_many", "at most %d indexes", MaxIndexes)
	}
	for i, cols := range c.Indexes {
		path := fmt.Sprintf("indexes[%d]", i)
		switch {
		case len(cols) == 0:
			p.add(path, "required", "an index needs at least one field")
		case len(cols) > MaxIndexColumns:
			p.add(path, "too_many", "at most %d fields", MaxIndexColumns)
		}
		for j, name := range cols {
			cp := fmt.Sprintf("%s[%d]", path, j)
			switch ok, exists := c.indexable(name); {
			case !exists:
				p.add(cp, "not_found", "no field %q", name)
			case !ok:
				p.add(cp, "not_indexable", "%q holds JSON (a json or multi field) and cannot be indexed", name)
			}
			if k := slices.Index(cols, name); k < j {
				p.add(cp, "duplicate", "%q is also %s[%d]", name, path, k)
			}
		}
		for k := range i {
			if slices.Equal(c.Indexes[k], cols) {
				p.add(path, "duplicate", "same fields as indexes[%d]", k)
				break
			}
		}
	}
}
