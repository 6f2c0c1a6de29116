package expr

// plan is a checked expression: names resolved against a schema, operand
// types known, literals normalised to the kind they are compared as. SQL
// and Eval both work from it, which is what keeps them in agreement.
type plan struct {
	collection string
	root       cnode
}

// cnode is *cLogic or *cCmp.
type cnode interface{ isCnode() }

// cLogic is an and / or of items, or a not of items[0].
type cLogic struct {
	op    logicOp
	items []cnode
}

type logicOp int

const (
	logicAnd logicOp = iota
	logicOr
	logicNot
)

// cCmp is one comparison in its positive form ("=", ">", "~", the
// null test …); neg marks != !~ !in, which are its negation.
type cCmp struct {
	pos  int
	op   cop
	neg  bool
	kind Kind // kind of the values compared (KindJSON: the json side of ~ or a null test)
	l, r *side

	// Prepared by Check for Eval (SQL reads r.vals):
	fold []any            // ~ with literals on the right: those, ASCII letters lowered
	set  map[any]struct{} // = / in with a literal list of more than maxLinearIn values: those
}

func (*cLogic) isCnode() {}
func (*cCmp) isCnode()   {}

// cop is a comparison operator in positive form.
type cop int

const (
	opEq   cop = iota // = and in
	opGt              // >
	opGe              // >=
	opLt              // <
	opLe              // <=
	opLike            // ~ (left contains right, ASCII case-insensitive)
	opNull            // = null: the left side has no value (r is nil)
)

// sqlOps are the SQL spellings of the ordering operators.
var sqlOps = map[cop]string{opEq: "=", opGt: ">", opGe: ">=", opLt: "<", opLe: "<="}

// side is one operand of a cCmp: a field, @request.auth.<auth>, @now, or
// else literal values (none for null).
type side struct {
	field *cField
	vals  []any  // literal values normalised to the kind (one, or a list)
	auth  string // @request.auth key
	now   bool
}

// isConst reports whether the side is known without reading a record.
func (s *side) isConst() bool { return s.field == nil }

// isLiteral reports whether the side is literal values (or null).
func (s *side) isLiteral() bool { return s.field == nil && s.auth == "" && !s.now }

// cField is a field path resolved hop by hop.
type cField struct {
	path []string
	hops []hop
}

// hop is one name of a path: the field, and for a relation followed
// further the table and id column of its target.
type hop struct {
	Field
	table string // target table ("" for the last hop)
	idCol string // target id column
}

// multiHops reports whether some relation on the path is multi (Eval then
// gets one value per related record).
func (f *cField) multiHops() bool {
	for _, h := range f.hops[:len(f.hops)-1] {
		if h.Multi {
			return true
		}
	}
	return false
}

// last is the field the path ends at.
func (f *cField) last() hop { return f.hops[len(f.hops)-1] }
