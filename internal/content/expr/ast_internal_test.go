package expr

import (
	"reflect"
	"testing"
)

// TestStringRoundTripTree checks that Parse(n.String()) gives the same
// tree as n, positions aside (the tests outside the package can only
// compare renderings).
func TestStringRoundTripTree(t *testing.T) {
	for _, src := range []string{
		`a = 1 && (b = 2 && c = 3)`, `(a = 1 || b = 2) && c = 3 || !(d ~ "x" && e)`, `!(!a)`, `!(a = null)`,
		`a in ("x", 'y', 3, true) || b !in c.d`, `@now > x && @request.auth.id = y`, `x = "é\u202e\"\\\n"`,
		`((a)) && (((b = -1.5e-3)))`, `true || !false`, `a.b.c = null`,
	} {
		n1, err := Parse(src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		n2, err := Parse(n1.String())
		if err != nil {
			t.Fatalf("Parse(%q): %v", n1.String(), err)
		}
		r1, r2 := n1.(*tree).root, n2.(*tree).root
		zeroPositions(r1)
		zeroPositions(r2)
		if !reflect.DeepEqual(r1, r2) {
			t.Errorf("%q and its rendering %q parse to different trees", src, n1.String())
		}
	}
}

func zeroPositions(n node) {
	switch n := n.(type) {
	case *andNode:
		for _, it := range n.items {
			zeroPositions(it)
		}
	case *orNode:
		for _, it := range n.items {
			zeroPositions(it)
		}
	case *notNode:
		n.pos = 0
		zeroPositions(n.x)
	case *cmpNode:
		n.pos = 0
		for _, o := range []operand{n.left, n.right} {
			switch o := o.(type) {
			case *fieldRef:
				o.pos = 0
			case *literal:
				o.pos = 0
			case *refNode:
				o.pos = 0
			case *listNode:
				o.pos = 0
				for _, it := range o.items {
					it.pos = 0
				}
			}
		}
	}
}
