package schema

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// Limits of a full-text query.
const (
	MaxSearchLength = 1000 // bytes
	MaxSearchTerms  = 32
	// MinPrefixLength is the length, in characters, from which the last
	// term of a query also finds the words it begins: a shorter one
	// would expand to a large part of the index.
	MinPrefixLength = 3
)

// SearchTerms splits a full-text query into its terms the way both
// dialects' indexes split text: runs of letters, digits and marks, in
// NFC, lower-cased; a run without a letter or digit is no term. It
// reports a validation error (field "search") for a query with no term,
// or one too long.
func SearchTerms(query string) ([]string, error) {
	if len(query) > MaxSearchLength {
		return nil, fieldError("invalid search", "search", "too_long", "at most %d bytes", MaxSearchLength)
	}
	if !utf8.ValidString(query) {
		return nil, fieldError("invalid search", "search", "invalid", "not valid UTF-8")
	}
	terms := strings.FieldsFunc(strings.ToLower(norm.NFC.String(query)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
	terms = slices.DeleteFunc(terms, func(t string) bool {
		return !strings.ContainsFunc(t, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
	})
	if len(terms) == 0 {
		return nil, fieldError("invalid search", "search", "required", "has no words to search for")
	}
	if len(terms) > MaxSearchTerms {
		return nil, fieldError("invalid search", "search", "too_many", "at most %d words", MaxSearchTerms)
	}
	return terms, nil
}

// Search is a full-text search compiled for one dialect, as a join: the
// form that ranks in one pass (SQLite's bm25 is only defined while the
// FTS table drives the query; as a per-row subquery it is quadratic).
//
//	SELECT … FROM c_posts t <Join> WHERE <Cond> ORDER BY <Rank> DESC
type Search struct {
	// Join follows "FROM <table> t". On SQLite it joins the matching rows
	// of the FTS table (alias fts_match) and so restricts to them; "" on
	// PostgreSQL.
	Join string
	// Cond is ANDed into WHERE: "" on SQLite (Join restricts), the tsquery
	// match on PostgreSQL.
	Cond string
	// Rank is the relevance of a row, larger is better.
	Rank string
	// Args holds the one argument, $next, which Join or Cond uses (Rank
	// may use it again, never another).
	Args []any
}

// CompileSearch compiles query over c for dialect d, numbering its
// placeholder $next. Every term of query must match (AND); the last one
// also as a prefix when it has MinPrefixLength characters or more ("pos"
// finds "postgres", "po" only "po"), so that search-as-you-type works.
//
// Words are runs of letters and digits, case and the diacritics of Latin
// letters folded ("Crème" is "creme"), on both dialects: an email, a URL,
// a host or a decimal is several words, found by any of them. Differences
// left between the dialects: symbols such as emoji and numbers that are
// not decimal digits (², ½) are words in SQLite and separators in
// PostgreSQL; SQLite folds the diacritics of fewer, rare Latin letters
// (ǡ); and a PostgreSQL database with the C locale folds only ASCII case
// and splits words at no non-ASCII punctuation.
//
// The query text never enters the SQL: its terms are quoted for the
// full-text syntax (FTS5 MATCH, PostgreSQL to_tsquery) and bound.
// Errors: content.invalid_search when c has no searchable field; a
// validation error (field "search") for a query without words.
func CompileSearch(c *Collection, d store.Dialect, query string, next int) (Search, error) {
	if !c.Searchable() {
		return Search{}, errs.E(errs.Invalid, CodeInvalidSearch, "collection %q has no searchable fields", c.Name)
	}
	terms, err := SearchTerms(query)
	if err != nil {
		return Search{}, err
	}
	p := fmt.Sprintf("$%d", next)
	if d == store.Postgres {
		tsq := "to_tsquery('simple'::regconfig, " + p + ")"
		col := "t." + quote(SearchColumn)
		return Search{
			Cond: col + " @@ " + tsq,
			Rank: "ts_rank(" + col + ", " + tsq + ")",
			Args: []any{tsQuery(terms)},
		}, nil
	}
	fts := quote(FTSTable(c.Name))
	return Search{
		// bm25 is smaller for better matches.
		Join: "JOIN (SELECT rowid AS rid, -bm25(" + fts + ") AS score FROM " + fts + " WHERE " + fts + " MATCH " + p +
			") fts_match ON fts_match.rid = t." + quote(RowIDColumn),
		Rank: "fts_match.score",
		Args: []any{ftsQuery(terms)},
	}, nil
}

// SearchSQL returns a condition over c's table aliased "t" admitting the
// rows matching query, and a rank expression for ORDER BY (larger is a
// better match), with the placeholder $next (used by both) and its
// argument. Terms, quoting and errors are those of CompileSearch.
//
// On SQLite the rank is a correlated subquery whose cost grows with the
// square of the number of matches (bm25 recomputes its statistics per
// row): fine for a few hundred matches, minutes for tens of thousands.
// Ranked lists should use CompileSearch's join; the condition alone is
// cheap on both dialects.
func SearchSQL(c *Collection, d store.Dialect, query string, next int) (cond, rank string, args []any, err error) {
	s, err := CompileSearch(c, d, query, next)
	if err != nil {
		return "", "", nil, err
	}
	if d == store.Postgres {
		return s.Cond, s.Rank, s.Args, nil
	}
	fts := quote(FTSTable(c.Name))
	p := fmt.Sprintf("$%d", next)
	rid := "t." + quote(RowIDColumn)
	cond = rid + " IN (SELECT rowid FROM " + fts + " WHERE " + fts + " MATCH " + p + ")"
	rank = "(SELECT -bm25(" + fts + ") FROM " + fts + " WHERE " + fts + " MATCH " + p + " AND rowid = " + rid + ")"
	return cond, rank, s.Args, nil
}

// ftsQuery writes terms as an FTS5 query: each a quoted string (so that
// AND, OR, NOT, NEAR, column filters and operators are plain words), all
// required, the last a prefix if long enough. FTS5 folds diacritics of
// the terms itself, as it does of the text.
func ftsQuery(terms []string) string {
	q := make([]string, len(terms))
	for i, t := range terms {
		q[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	if isPrefix(terms[len(terms)-1]) {
		q[len(q)-1] += "*"
	}
	return strings.Join(q, " AND ")
}

// tsQuery writes terms as a PostgreSQL tsquery: each a quoted lexeme with
// diacritics folded as the search column folds them, all required (&),
// the last a prefix (:*) if long enough.
func tsQuery(terms []string) string {
	q := make([]string, len(terms))
	for i, t := range terms {
		t = foldDiacritics(t)
		q[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), "'", "''") + "'"
	}
	if isPrefix(terms[len(terms)-1]) {
		q[len(q)-1] += ":*"
	}
	return strings.Join(q, " & ")
}

// isPrefix reports whether the last term of a query is long enough to be
// searched as a prefix.
func isPrefix(term string) bool { return utf8.RuneCountInString(term) >= MinPrefixLength }
