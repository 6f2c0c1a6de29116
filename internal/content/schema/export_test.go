package schema

// Internals the tests of package schema_test check directly.
var (
	SearchText     = searchText
	FoldDiacritics = foldDiacritics
)
