package expr

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Check resolves every name of n in collection and checks operand types.
// On success it records the checked form in n, which Eval needs: call
// Check before sharing n between goroutines (SQL and Eval only read n).
func Check(n Node, s Schema, collection string) error {
	if n == nil {
		return nil
	}
	p, err := check(n, s, collection)
	if err != nil {
		return err
	}
	n.(*tree).checked.Store(p)
	return nil
}

// errForeignNode is returned for a Node that Parse did not make.
var errForeignNode = errors.New("expr: node was not made by Parse")

// check builds the checked form of n without changing n.
func check(n Node, s Schema, collection string) (*plan, error) {
	t, ok := n.(*tree)
	if !ok || t == nil {
		return nil, errForeignNode
	}
	if _, ok := s.Table(collection); !ok {
		return nil, errAt(0, fmt.Sprintf("unknown collection %q", collection))
	}
	c := &checker{s: s, collection: collection}
	root, err := c.node(t.root)
	if err != nil {
		return nil, err
	}
	return &plan{collection: collection, root: root}, nil
}

type checker struct {
	s          Schema
	collection string
}

func (c *checker) node(n node) (cnode, error) {
	switch n := n.(type) {
	case *andNode:
		return c.logic(logicAnd, n.items)
	case *orNode:
		return c.logic(logicOr, n.items)
	case *notNode:
		return c.logic(logicNot, []node{n.x})
	case *cmpNode:
		return c.cmp(n)
	}
	return nil, errForeignNode
}

func (c *checker) logic(op logicOp, items []node) (cnode, error) {
	l := &cLogic{op: op, items: make([]cnode, len(items))}
	for i, it := range items {
		x, err := c.node(it)
		if err != nil {
			return nil, err
		}
		l.items[i] = x
	}
	return l, nil
}

// otype is what the checker knows of an operand.
type otype struct {
	kind    Kind
	untyped bool // string literals: text, or a date when compared with one
	null    bool // the null literal
	set     bool // may stand for several values
	o       operand
	multi   bool // a multi field
}

// desc names the operand in error messages: number field "views", text "x".
func (t otype) desc() string {
	switch o := t.o.(type) {
	case *fieldRef:
		d := fmt.Sprintf("%s field %q", t.kind, o.String())
		if t.multi {
			d = "multi " + d
		}
		return d
	case *literal:
		if t.null {
			return "null"
		}
		return t.kind.String() + " " + o.String()
	case *listNode:
		return "list " + o.String()
	}
	return t.o.String()
}

var kindNames = map[Kind]string{KindText: "text", KindNumber: "number", KindBool: "bool", KindDate: "date", KindJSON: "json"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (c *checker) cmp(n *cmpNode) (cnode, error) {
	ls, lt, err := c.operand(n.left)
	if err != nil {
		return nil, err
	}
	if n.op == "" {
		if lt.kind != KindBool || lt.null {
			return nil, errAt(n.pos, lt.desc()+" is not bool: compare it with an operator")
		}
		if err := c.convert(ls, n.left, KindBool); err != nil {
			return nil, err
		}
		return &cCmp{pos: n.pos, op: opEq, kind: KindBool, l: ls, r: &side{vals: []any{true}}}, nil
	}
	rs, rt, err := c.operand(n.right)
	if err != nil {
		return nil, err
	}
	neg := n.op[0] == '!'
	positive := strings.TrimPrefix(n.op, "!")
	if n.op == "!=" {
		positive = "="
	}
	if lt.null || rt.null {
		if positive != "=" {
			return nil, errAt(n.pos, fmt.Sprintf("null can only be compared with = or !=, not %q", n.op))
		}
		lo := n.left
		if lt.null {
			ls, lt, lo = rs, rt, n.right
		}
		if err := c.convert(ls, lo, lt.kind); err != nil {
			return nil, err
		}
		return &cCmp{pos: n.pos, op: opNull, neg: neg, kind: lt.kind, l: ls}, nil
	}
	if lt.kind == KindJSON || rt.kind == KindJSON {
		if positive != "~" || rt.kind == KindJSON || !(rt.kind == KindText || rt.untyped) {
			json := lt
			if rt.kind == KindJSON {
				json = rt
			}
			return nil, errAt(n.pos, json.desc()+" can only be compared with null or searched with ~ (json ~ text)")
		}
		if err := c.convert(rs, n.right, KindText); err != nil {
			return nil, err
		}
		return prepare(&cCmp{pos: n.pos, op: opLike, neg: neg, kind: KindJSON, l: ls, r: rs}), nil
	}
	if positive == "~" && (lt.kind != KindText || rt.kind != KindText) {
		return nil, errAt(n.pos, fmt.Sprintf("operator %q needs text, not %s", n.op, nonText(lt, rt)))
	}
	k, err := unify(n, lt, rt)
	if err != nil {
		return nil, err
	}
	op, err := operator(n, positive, k, lt, rt)
	if err != nil {
		return nil, err
	}
	if err := c.convert(ls, n.left, k); err != nil {
		return nil, err
	}
	if err := c.convert(rs, n.right, k); err != nil {
		return nil, err
	}
	return prepare(&cCmp{pos: n.pos, op: op, neg: neg, kind: k, l: ls, r: rs}), nil
}

// maxLinearIn is the longest literal list Eval scans; a longer one is
// looked up in a set.
const maxLinearIn = 8

// prepare readies c for Eval: the literals searched for with ~ lowered
// once, here, rather than at every comparison; a long literal list made a
// set.
func prepare(c *cCmp) *cCmp {
	if c.r == nil || !c.r.isLiteral() {
		return c
	}
	switch {
	case c.op == opLike:
		c.fold = make([]any, len(c.r.vals))
		for i, v := range c.r.vals {
			c.fold[i] = asciiLower(v.(string))
		}
	case c.op == opEq && len(c.r.vals) > maxLinearIn:
		c.set = make(map[any]struct{}, len(c.r.vals))
		for _, v := range c.r.vals {
			c.set[v] = struct{}{}
		}
	}
	return c
}

// unify finds the kind both sides are compared as.
func unify(n *cmpNode, lt, rt otype) (Kind, error) {
	switch {
	case lt.untyped && rt.untyped:
		return KindText, nil
	case lt.untyped && (rt.kind == KindText || rt.kind == KindDate):
		return rt.kind, nil
	case rt.untyped && (lt.kind == KindText || lt.kind == KindDate):
		return lt.kind, nil
	case !lt.untyped && !rt.untyped && lt.kind == rt.kind:
		return lt.kind, nil
	}
	return 0, errAt(n.pos, fmt.Sprintf("cannot compare %s with %s", lt.desc(), rt.desc()))
}

// operator checks that op applies to kind k and returns its positive form.
func operator(n *cmpNode, op string, k Kind, lt, rt otype) (cop, error) {
	switch op {
	case "=":
		return opEq, nil
	case "in":
		if !rt.set {
			return 0, errAt(n.right.position(), fmt.Sprintf("the right side of %q must be a list, a multi field or @request.auth.roles/permissions, not %s", n.op, rt.desc()))
		}
		return opEq, nil
	case "~":
		return opLike, nil
	}
	if k == KindBool {
		return 0, errAt(n.pos, fmt.Sprintf("operator %q does not apply to bool values (%s)", n.op, lt.desc()))
	}
	return orderOps[op], nil
}

var orderOps = map[string]cop{">": opGt, ">=": opGe, "<": opLt, "<=": opLe}

func nonText(lt, rt otype) string {
	if lt.kind != KindText {
		return lt.desc()
	}
	return rt.desc()
}

// operand resolves o into a side and says what type it has.
func (c *checker) operand(o operand) (*side, otype, error) {
	switch o := o.(type) {
	case *fieldRef:
		f, err := c.resolve(o)
		if err != nil {
			return nil, otype{}, err
		}
		last := f.last()
		return &side{field: f}, otype{kind: last.Kind, set: last.Multi || f.multiHops(), o: o, multi: last.Multi}, nil
	case *refNode:
		if o.key == "" {
			return &side{now: true}, otype{kind: KindDate, o: o}, nil
		}
		k := KindText
		if o.key == "verified" {
			k = KindBool
		}
		return &side{auth: o.key}, otype{kind: k, set: authKeys[o.key], o: o}, nil
	case *literal:
		return &side{}, literalType(o), nil
	case *listNode:
		t := otype{set: true, o: o}
		for i, it := range o.items {
			lt := literalType(it)
			if i > 0 && (lt.kind != t.kind || lt.untyped != t.untyped) {
				return nil, otype{}, errAt(it.pos, fmt.Sprintf("list mixes %s and %s values", t.kind, lt.kind))
			}
			t.kind, t.untyped = lt.kind, lt.untyped
		}
		return &side{}, t, nil
	}
	return nil, otype{}, errForeignNode
}

func literalType(l *literal) otype {
	switch l.kind {
	case litString:
		return otype{kind: KindText, untyped: true, o: l}
	case litNumber:
		return otype{kind: KindNumber, o: l}
	case litBool:
		return otype{kind: KindBool, o: l}
	}
	return otype{null: true, o: l}
}

// convert fills the values of a literal or list side, as kind k.
func (c *checker) convert(s *side, o operand, k Kind) error {
	var lits []*literal
	switch o := o.(type) {
	case *literal:
		lits = []*literal{o}
	case *listNode:
		lits = o.items
	default:
		return nil
	}
	s.vals = make([]any, 0, len(lits))
	for _, l := range lits {
		switch l.kind {
		case litNumber:
			s.vals = append(s.vals, l.num)
		case litBool:
			s.vals = append(s.vals, l.b)
		case litString:
			if k != KindDate {
				// Records hold text in NFC (the schema's Encode
				// normalises it): so do the literals compared with it.
				s.vals = append(s.vals, norm.NFC.String(l.s))
				continue
			}
			d, ok := parseDate(l.s)
			if !ok {
				return errAt(l.pos, fmt.Sprintf(`invalid date %s (want RFC 3339, "2006-01-02 15:04:05" or "2006-01-02", years 1-9999)`, l.String()))
			}
			s.vals = append(s.vals, d)
		}
	}
	return nil
}

// resolve looks up each name of a path, following relations.
func (c *checker) resolve(o *fieldRef) (*cField, error) {
	f := &cField{path: o.path, hops: make([]hop, len(o.path))}
	coll := c.collection
	for i, name := range o.path {
		fd, ok := c.s.Field(coll, name)
		if !ok {
			return nil, errAt(o.pos, fmt.Sprintf("unknown field %q", strings.Join(o.path[:i+1], ".")))
		}
		if _, known := kindNames[fd.Kind]; !known {
			return nil, errAt(o.pos, fmt.Sprintf("field %q has an unknown kind %d", name, int(fd.Kind)))
		}
		if fd.Multi && fd.Kind != KindText {
			return nil, errAt(o.pos, fmt.Sprintf("multi %s field %q is not supported in expressions", fd.Kind, name))
		}
		if !validIdent(fd.Column) {
			return nil, errAt(o.pos, fmt.Sprintf("field %q has an invalid column name", name))
		}
		f.hops[i].Field = fd
		if i == len(o.path)-1 {
			break
		}
		if fd.Target == "" {
			return nil, errAt(o.pos, fmt.Sprintf("field %q is not a relation: cannot follow it to %q", strings.Join(o.path[:i+1], "."), o.path[i+1]))
		}
		table, ok := c.s.Table(fd.Target)
		if !ok || !validIdent(table) {
			return nil, errAt(o.pos, fmt.Sprintf("relation %q targets unknown collection %q", name, fd.Target))
		}
		idCol := "id"
		if id, ok := c.s.Field(fd.Target, "id"); ok && validIdent(id.Column) {
			idCol = id.Column
		}
		f.hops[i].table, f.hops[i].idCol = table, idCol
		coll = fd.Target
	}
	return f, nil
}

// validIdent rejects identifiers SQL could not carry safely even quoted.
func validIdent(s string) bool { return s != "" && !strings.ContainsRune(s, 0) }
