package auth

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// Statements over lists of values (store_refresh.go). A list is padded to
// a power of two by repeating its last value, so that each statement has
// a few texts, one per size, for the statement caches (the store's on
// SQLite, pgx's per connection on PostgreSQL) rather than one per length.

// maxPadSize is the largest list the statements above take: 1<<padSizes-1.
const (
	padSizes   = 8
	maxPadSize = 1 << (padSizes - 1)
)

// padSize is n rounded up to a power of two.
func padSize(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// padded returns vals as query arguments padded to padSize(len(vals)) by
// repeating the last, after first when first is not nil.
func padded(vals []string, first any) []any {
	n := padSize(len(vals))
	args := make([]any, 0, n+1)
	if first != nil {
		args = append(args, first)
	}
	for i := range n {
		args = append(args, vals[min(i, len(vals)-1)])
	}
	return args
}

// sizedQuery returns the text of a statement for a list of n values (a
// power of two up to maxPadSize), built once per n.
func sizedQuery(build func(n int) string) func(n int) string {
	var (
		once [padSizes]sync.Once
		text [padSizes]string
	)
	return func(n int) string {
		i := bits.Len(uint(n)) - 1
		once[i].Do(func() { text[i] = build(n) })
		return text[i]
	}
}

// placeholders returns n groups of width placeholders numbered from from:
// "$1, $2" for (1, 2, 1), "($1, $2), ($3, $4)" for (1, 2, 2).
func placeholders(from, n, width int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if width > 1 {
			b.WriteByte('(')
		}
		for j := range width {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(from+i*width+j))
		}
		if width > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}

// qualify prefixes each column of a comma-separated list with table.
func qualify(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
