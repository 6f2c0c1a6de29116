package expr

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits against abusive expressions.
const (
	MaxSource      = 4096 // bytes of source
	MaxDepth       = 32   // nesting of parentheses and !
	MaxComparisons = 128  // comparisons (and bare bool operands)
	MaxHops        = 3    // relations a path may follow: a.b.c.d
)

// authKeys are the keys @request.auth.<key> may name, and whether each is
// a list.
var authKeys = map[string]bool{
	"id": false, "email": false, "kind": false, "verified": false,
	"roles": true, "permissions": true,
}

// Parse parses src; "" (or only spaces) gives (nil, nil).
func Parse(src string) (Node, error) {
	if len(src) > MaxSource {
		return nil, errAt(MaxSource, fmt.Sprintf("expression longer than %d bytes", MaxSource))
	}
	if !utf8.ValidString(src) {
		return nil, errAt(invalidUTF8At(src), "invalid UTF-8")
	}
	if i := strings.IndexByte(src, 0); i >= 0 {
		return nil, errAt(i, "unexpected NUL byte")
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, nil
	}
	p := &parser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, `"&&", "||" or the end`)
	}
	return &tree{root: root}, nil
}

func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return 0
}

// parser is a recursive-descent parser over the tokens:
//
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" ( "(" or ")" | bareOperand ) | "(" or ")" | comparison
//	comparison = operand [ op operand ]      (list only after in / !in)
type parser struct {
	toks  []token
	i     int
	depth int
	cmps  int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) unexpected(t token, want string) error {
	return errAt(t.pos, "expected "+want+", found "+t.describe())
}

func (p *parser) or() (node, error) {
	return p.chain(tOr, p.and, func(items []node) node { return &orNode{items} })
}

func (p *parser) and() (node, error) {
	return p.chain(tAnd, p.unary, func(items []node) node { return &andNode{items} })
}

// chain parses sub { sep sub }, flattening nested nodes of the same kind.
func (p *parser) chain(sep tokKind, sub func() (node, error), mk func([]node) node) (node, error) {
	var items []node
	for {
		n, err := sub()
		if err != nil {
			return nil, err
		}
		items = appendFlat(items, n, sep)
		if p.peek().kind != sep {
			break
		}
		p.next()
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return mk(items), nil
}

func appendFlat(items []node, n node, sep tokKind) []node {
	switch n := n.(type) {
	case *andNode:
		if sep == tAnd {
			return append(items, n.items...)
		}
	case *orNode:
		if sep == tOr {
			return append(items, n.items...)
		}
	}
	return append(items, n)
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return errAt(pos, fmt.Sprintf("nested deeper than %d levels", MaxDepth))
	}
	return nil
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		var x node
		var err error
		if p.peek().kind == tLParen {
			x, err = p.group()
		} else {
			x, err = p.bare(t)
		}
		if err != nil {
			return nil, err
		}
		return &notNode{pos: t.pos, x: x}, nil
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		return p.group()
	}
	return p.comparison()
}

// group parses "(" or ")".
func (p *parser) group() (node, error) {
	p.next()
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRParen {
		return nil, p.unexpected(t, `")"`)
	}
	return x, nil
}

// bare parses the operand after "!" (not a parenthesised expression): a
// bool field, @request ref or literal, with no operator after it.
func (p *parser) bare(not token) (node, error) {
	t := p.peek()
	switch t.kind {
	case tName, tRef, tTrue, tFalse:
	default:
		return nil, p.unexpected(t, `"(" or a bool field after "!"`)
	}
	o, err := p.operand()
	if err != nil {
		return nil, err
	}
	if next := p.peek(); next.kind == tOp {
		return nil, errAt(next.pos, `"!" applies to a bool field or a parenthesised expression: write !(… `+next.text+` …)`)
	}
	return p.count(&cmpNode{pos: o.position(), left: o})
}

func (p *parser) count(c *cmpNode) (node, error) {
	p.cmps++
	if p.cmps > MaxComparisons {
		return nil, errAt(c.pos, fmt.Sprintf("more than %d comparisons", MaxComparisons))
	}
	return c, nil
}

func (p *parser) comparison() (node, error) {
	if t := p.peek(); !startsOperand(t.kind) {
		return nil, p.unexpected(t, "a comparison")
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	opTok := p.peek()
	if opTok.kind != tOp {
		// A bare operand is a bool condition; Check verifies its type.
		if _, isLit := left.(*literal); isLit && !isBoolLit(left) {
			return nil, p.unexpected(opTok, "an operator after "+left.String())
		}
		return p.count(&cmpNode{pos: left.position(), left: left})
	}
	p.next()
	var right operand
	if t := p.peek(); t.kind == tLParen && (opTok.text == "in" || opTok.text == "!in") {
		right, err = p.list()
	} else if startsOperand(t.kind) {
		right, err = p.operand()
	} else {
		return nil, errAt(t.pos, fmt.Sprintf("expected a value after %q, found %s", opTok.text, t.describe()))
	}
	if err != nil {
		return nil, err
	}
	return p.count(&cmpNode{pos: opTok.pos, op: opTok.text, left: left, right: right})
}

func isBoolLit(o operand) bool {
	l, ok := o.(*literal)
	return ok && l.kind == litBool
}

func startsOperand(k tokKind) bool {
	switch k {
	case tName, tRef, tString, tNumber, tTrue, tFalse, tNull:
		return true
	}
	return false
}

// operand parses a field, @ref or literal.
func (p *parser) operand() (operand, error) {
	t := p.next()
	switch t.kind {
	case tName:
		path := strings.Split(t.text, ".")
		if len(path) > MaxHops+1 {
			return nil, errAt(t.pos, fmt.Sprintf("path %q follows more than %d relations", t.text, MaxHops))
		}
		return &fieldRef{pos: t.pos, path: path}, nil
	case tRef:
		return parseRef(t)
	case tString:
		return &literal{pos: t.pos, kind: litString, s: t.text}, nil
	case tNumber:
		return &literal{pos: t.pos, kind: litNumber, num: t.num}, nil
	case tTrue, tFalse:
		return &literal{pos: t.pos, kind: litBool, b: t.kind == tTrue}, nil
	case tNull:
		return &literal{pos: t.pos, kind: litNull}, nil
	}
	return nil, p.unexpected(t, "a value")
}

func parseRef(t token) (operand, error) {
	if t.text == "now" {
		return &refNode{pos: t.pos}, nil
	}
	key, ok := strings.CutPrefix(t.text, "request.auth.")
	if _, known := authKeys[key]; !ok || !known {
		return nil, errAt(t.pos, fmt.Sprintf(`unknown reference "@%s" (want @now or @request.auth.id, .email, .kind, .verified, .roles, .permissions)`, t.text))
	}
	return &refNode{pos: t.pos, key: key}, nil
}

// list parses ( literal { "," literal } ).
func (p *parser) list() (operand, error) {
	open := p.next()
	l := &listNode{pos: open.pos}
	for {
		t := p.peek()
		switch t.kind {
		case tString, tNumber, tTrue, tFalse:
			o, _ := p.operand()
			l.items = append(l.items, o.(*literal))
		default:
			return nil, p.unexpected(t, "a string, number or bool in the list")
		}
		switch t := p.next(); t.kind {
		case tComma:
			continue
		case tRParen:
			return l, nil
		default:
			return nil, p.unexpected(t, `"," or ")"`)
		}
	}
}

func errAt(pos int, msg string) *Error { return &Error{Pos: pos, Msg: msg} }
