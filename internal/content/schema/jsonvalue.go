package schema

import (
	"encoding/json"
	"strings"
)

// encodeJSON converts the value of a json field to the JSON text bound
// for it (jsonb on PostgreSQL, TEXT on SQLite).
func encodeJSON(v any) (any, problem) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, bad("invalid", "not a JSON value")
	}
	if len(b) > MaxJSONBytes {
		return nil, bad("too_large", "must be at most %d bytes of JSON", MaxJSONBytes)
	}
	if jsonDepth(b) > MaxJSONDepth {
		// SQLite's JSON functions refuse values nested more than 1000
		// deep, and then every ~ filter on the collection would fail.
		return nil, bad("too_deep", "must nest arrays and objects at most %d deep", MaxJSONDepth)
	}
	// PostgreSQL's jsonb refuses \u0000 in strings; `\\u0000` (an escaped
	// backslash) is fine, hence the check of decoded strings.
	if strings.Contains(string(b), `\u0000`) {
		var tree any
		if json.Unmarshal(b, &tree) != nil || hasNUL(tree) {
			return nil, bad("invalid", "must not contain NUL characters")
		}
	}
	return string(b), problem{}
}

func hasNUL(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.ContainsRune(t, 0)
	case []any:
		for _, e := range t {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range t {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// jsonDepth is how deep arrays and objects nest in the JSON text b (0 for
// a scalar).
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++ // the escaped byte
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
