package records

import "testing"

// TestArgsKeyInjective: values cannot forge the separator between
// arguments, and types tell equal-looking values apart.
func TestArgsKeyInjective(t *testing.T) {
	for _, pair := range [][2][]any{
		{{"a\x00string:b"}, {"a", "b"}},
		{{"x\x00string:\"y\"", "z"}, {"x", "y\x00string:\"z\""}},
		{{"1"}, {int64(1)}},
		{{"a", "b"}, {"a,b"}},
	} {
		if argsKey(pair[0]) == argsKey(pair[1]) {
			t.Errorf("argsKey(%q) == argsKey(%q)", pair[0], pair[1])
		}
	}
}
