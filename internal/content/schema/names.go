package schema

import "regexp"

// namePattern is what collection and field names look like: they become
// SQL identifiers, so nothing else is allowed.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// reserved are the words SQLite or PostgreSQL do not accept as a bare
// column name in every statement the content service writes (found by
// trying each keyword of both; see TestReservedWords). Rejecting them keeps
// every name safe unquoted, in any SQL anyone writes.
var reserved = map[string]bool{}

func init() {
	for _, w := range []string{
		"add", "all", "alter", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric",
		"authorization", "autoincrement", "between", "binary", "both", "case", "cast", "check", "cmax",
		"cmin", "collate", "collation", "column", "commit", "concurrently", "constraint", "create", "cross",
		"ctid", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
		"current_timestamp", "current_user", "default", "deferrable", "delete", "desc", "distinct", "do",
		"drop", "else", "end", "escape", "except", "exists", "false", "fetch", "for", "foreign", "freeze",
		"from", "full", "grant", "group", "having", "ilike", "in", "index", "initially", "inner", "insert",
		"intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit",
		"localtime", "localtimestamp", "natural", "not", "nothing", "notnull", "null", "offset", "oid",
		"on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "raise", "references",
		"returning", "right", "rowid", "select", "session_user", "set", "similar", "some", "symmetric",
		"table", "tableoid", "tablesample", "then", "to", "trailing", "transaction", "true", "union",
		"unique", "update", "user", "using", "values", "variadic", "verbose", "when", "where", "window",
		"with", "xmax", "xmin",
	} {
		reserved[w] = true
	}
}

// IsReserved reports whether name is an SQL keyword that collections and
// fields may not be named.
func IsReserved(name string) bool { return reserved[name] }

// ValidName reports whether name may name a collection or a field (a
// field also may not be a system field).
func ValidName(name string) bool { return namePattern.MatchString(name) && !reserved[name] }
