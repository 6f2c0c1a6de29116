package expr

import (
	"strconv"
	"strings"
	"sync/atomic"
)

// tree is the Node Parse returns: the syntax tree and, once Check has
// run, the checked form Eval reads.
type tree struct {
	root    node
	checked atomic.Pointer[plan]
}

func (t *tree) String() string { return t.root.String() }

// node is a condition: *andNode, *orNode, *notNode or *cmpNode.
type node interface {
	String() string
}

// andNode is a && b && …, orNode a || b || … (flattened: no item is
// itself an and, resp. or).
type andNode struct{ items []node }
type orNode struct{ items []node }

// notNode is !(x) or !field.
type notNode struct {
	pos int
	x   node
}

// cmpNode is "left op right", or a bare operand (op "") used as a bool.
type cmpNode struct {
	pos         int // of the operator, or of the bare operand
	op          string
	left, right operand
}

// operand is one side of a comparison.
type operand interface {
	String() string
	position() int
}

// fieldRef is a field name or a path through relations.
type fieldRef struct {
	pos  int
	path []string
}

// litKind is the type of a literal.
type litKind int

const (
	litString litKind = iota
	litNumber
	litBool
	litNull
)

// literal is a string, number, bool or null written in the source.
type literal struct {
	pos  int
	kind litKind
	s    string
	num  float64
	b    bool
}

// refNode is @now or @request.auth.<key> (key "" for @now).
type refNode struct {
	pos int
	key string
}

// listNode is ("a", "b", 3), only on the right of in / !in.
type listNode struct {
	pos   int
	items []*literal
}

func (f *fieldRef) position() int { return f.pos }
func (l *literal) position() int  { return l.pos }
func (r *refNode) position() int  { return r.pos }
func (l *listNode) position() int { return l.pos }

func (f *fieldRef) String() string { return strings.Join(f.path, ".") }

func (r *refNode) String() string {
	if r.key == "" {
		return "@now"
	}
	return "@request.auth." + r.key
}

func (l *literal) String() string {
	switch l.kind {
	case litString:
		return quote(l.s)
	case litNumber:
		return strconv.FormatFloat(l.num, 'g', -1, 64)
	case litBool:
		return strconv.FormatBool(l.b)
	}
	return "null"
}

func (l *listNode) String() string {
	parts := make([]string, len(l.items))
	for i, it := range l.items {
		parts[i] = it.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (n *andNode) String() string { return join(n.items, " && ", true) }
func (n *orNode) String() string  { return join(n.items, " || ", false) }

// join renders items with sep, parenthesising an or inside an and.
func join(items []node, sep string, and bool) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.String()
		if _, isOr := it.(*orNode); isOr && and {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, sep)
}

func (n *notNode) String() string {
	if c, ok := n.x.(*cmpNode); ok && c.op == "" {
		return "!" + c.left.String()
	}
	return "!(" + n.x.String() + ")"
}

func (n *cmpNode) String() string {
	if n.op == "" {
		return n.left.String()
	}
	return n.left.String() + " " + n.op + " " + n.right.String()
}

// quote renders s as a double-quoted literal that lexString decodes back
// to s. Characters that are not printable are written as \uXXXX so that
// invisible marks show.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case !strconv.IsPrint(r):
			writeUnicodeEscape(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeUnicodeEscape(b *strings.Builder, r rune) {
	hex := func(v rune) {
		s := strconv.FormatInt(int64(v), 16)
		b.WriteString(`\u` + strings.Repeat("0", 4-len(s)) + s)
	}
	if r > 0xFFFF {
		r -= 0x10000
		hex(0xD800 + r>>10)
		hex(0xDC00 + r&0x3FF)
		return
	}
	hex(r)
}

// Refs lists the field paths n references, each once, in the order they
// first appear (so callers can load relations before Eval).
func Refs(n Node) [][]string {
	t, ok := n.(*tree)
	if !ok || t == nil {
		return nil
	}
	var out [][]string
	seen := map[string]bool{}
	walkOperands(t.root, func(o operand) {
		if f, ok := o.(*fieldRef); ok && !seen[f.String()] {
			seen[f.String()] = true
			out = append(out, append([]string(nil), f.path...))
		}
	})
	return out
}

// walkOperands calls fn for every operand under n, left to right.
func walkOperands(n node, fn func(operand)) {
	switch n := n.(type) {
	case *andNode:
		for _, it := range n.items {
			walkOperands(it, fn)
		}
	case *orNode:
		for _, it := range n.items {
			walkOperands(it, fn)
		}
	case *notNode:
		walkOperands(n.x, fn)
	case *cmpNode:
		fn(n.left)
		if n.right != nil {
			fn(n.right)
		}
	}
}
