package expr

import (
	"errors"
	"time"
)

// errNotChecked is returned by Eval for a Node Check has not accepted.
var errNotChecked = errors.New("expr: Eval needs a checked expression (call Check first)")

// Eval evaluates n over rec with the same meaning SQL gives it. n must
// have passed Check. rec may be nil (every field null).
func Eval(n Node, rec Record, auth Auth) (bool, error) {
	return EvalAt(n, rec, auth, time.Now())
}

// EvalAt is Eval with @now standing for now.
func EvalAt(n Node, rec Record, auth Auth, now time.Time) (bool, error) {
	if n == nil {
		return true, nil
	}
	t, ok := n.(*tree)
	if !ok || t == nil {
		return false, errForeignNode
	}
	p := t.checked.Load()
	if p == nil {
		return false, errNotChecked
	}
	return newEnv(auth, now).node(p.root, rec), nil
}

// env is what constants stand for during one Eval or SQL call.
type env struct {
	auth Auth
	now  any // DateLayout string
}

func newEnv(auth Auth, now time.Time) env {
	d, ok := formatDate(now)
	if !ok {
		d = DateLayout // unreachable for any real clock
	}
	return env{auth: auth, now: d}
}

func (e env) node(n cnode, rec Record) bool {
	switch n := n.(type) {
	case *cLogic:
		switch n.op {
		case logicNot:
			return !e.node(n.items[0], rec)
		case logicAnd:
			for _, it := range n.items {
				if !e.node(it, rec) {
					return false
				}
			}
			return true
		default:
			for _, it := range n.items {
				if e.node(it, rec) {
					return true
				}
			}
			return false
		}
	case *cCmp:
		return e.cmp(n, rec)
	}
	return false
}

// cmp evaluates a comparison, negated forms included.
func (e env) cmp(c *cCmp, rec Record) bool {
	l := e.values(c.l, c.kind, rec)
	var r []any
	switch {
	case c.op == opNull:
	case c.set != nil:
		return inSet(l, c.set) != c.neg
	case c.fold != nil:
		r = c.fold
	default:
		r = e.values(c.r, textIfJSON(c.kind), rec)
	}
	return test(c.op, c.kind, l, r) != c.neg
}

// inSet reports whether some value of l is in set.
func inSet(l []any, set map[any]struct{}) bool {
	for _, a := range l {
		if _, ok := set[a]; ok {
			return true
		}
	}
	return false
}

// values lists the non-null values a side stands for.
func (e env) values(s *side, k Kind, rec Record) []any {
	switch {
	case s.now:
		return []any{e.now}
	case s.auth != "":
		return authValues(e.auth, s.auth)
	case s.field == nil:
		return s.vals
	}
	if rec == nil {
		return nil
	}
	v, ok := rec.Value(s.field.path)
	if !ok || v == nil {
		return nil
	}
	var out []any
	if k == KindJSON {
		// A json value is one value, even when it is an array, except
		// that a path through a multi relation gives one per record.
		if list, ok := v.([]any); ok && s.field.multiHops() {
			for _, x := range list {
				if x != nil {
					out = append(out, x)
				}
			}
			return out
		}
		return []any{v}
	}
	flatten(v, func(x any) {
		if x, ok := normalise(k, x); ok {
			out = append(out, x)
		}
	})
	return out
}

// flatten calls fn for every value of v, descending into lists.
func flatten(v any, fn func(any)) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			flatten(x, fn)
		}
	case []string:
		for _, x := range v {
			fn(x)
		}
	default:
		fn(v)
	}
}
