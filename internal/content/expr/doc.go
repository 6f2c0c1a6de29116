// Package expr is the filter and access-rule language of collections:
// parsing, checking names and types against a schema, compiling to a
// parameterised SQL condition (SQLite and PostgreSQL), and evaluating in
// memory with the same meaning (for realtime, where no database is read per
// subscriber).
//
//	published = true && (author = @request.auth.id || "editor" in @request.auth.roles)
//	title ~ "go" && views >= 10 && created > "2026-01-01" && author.name = "ann"
//
// # Syntax
//
//   - Values: strings "…" or '…' (escapes \" \' \\ \n \t \r \uXXXX, surrogate
//     pairs for characters beyond U+FFFF; no NUL), numbers (12, -3.5, 1e3),
//     true, false, null, @now, and lists ("a", "b", 3) on the right of in.
//   - Names: fields ([A-Za-z_][A-Za-z0-9_]*), paths through relations
//     (author.name, at most 3 relations), @request.auth.<key> with key id,
//     email, kind, verified, roles or permissions.
//   - Operators: = != > >= < <= ~ !~ in !in, && (binds tighter) and ||,
//     parentheses, ! before a parenthesised expression or a bool operand. A
//     bool operand alone is a condition: published means published = true.
//   - Limits: 4096 bytes, 32 levels of nesting, 128 comparisons.
//
// # Meaning
//
// Every operand stands for a set of values, nulls left out: a plain field
// or literal for one value or none (null), a multi field, a path through a
// multi relation, @request.auth.roles/permissions or a list for several.
// A comparison holds when some value on the left and some value on the
// right satisfy the operator ("any element"); != !~ and !in are the
// negation of = ~ and in ("no element"). So x = v is false when x is null,
// x != v is true when x is null, and ordering comparisons with a null side
// are false. x = null holds when x has no value (an empty array counts as
// none); x != null when it has one. in is = with a list, multi field or
// role list on the right.
//
// Kinds must match: text (text, email, url, select, relation ids, file,
// owner), number (compared as float64), bool (= and != only), date (string
// literals in RFC 3339, "2006-01-02 15:04:05" or "2006-01-02", UTC when no
// zone is given, and @now; all truncated to milliseconds), json (only
// = null, != null, and ~ which searches every string inside the value,
// object keys excepted). ~ is "contains", case-insensitive for ASCII letters
// only: SQLite's LIKE folds no other letters, so PostgreSQL's ILIKE runs
// under the "C" collation and Eval folds the same way ("É" ~ "é" is false).
// Text order is byte order (SQLite's default, COLLATE "C" on PostgreSQL).
// Text literals are compared in Unicode NFC, the form records hold text
// in, so "cafe\u0301" finds "café".
//
// @request.auth.* and @now are constants when SQL is built: a comparison
// of constants is decided then (with Eval's code) and the and/or around it
// simplified, so "editor" in @request.auth.roles costs the database nothing.
// An anonymous caller's @request.auth.id is null: @request.auth.id = null
// holds, and author = @request.auth.id holds for no record.
//
// # SQL
//
// The condition reads the collection's table as "t" and takes its values
// only as parameters $next, $next+1, …; identifiers come only from the
// Schema and are quoted. Relations become EXISTS subqueries (aliases r1,
// r2, …), multi fields EXISTS over json_each / jsonb_array_elements_text
// (e1, …), with "multi = value" as jsonb containment on PostgreSQL so a GIN
// index can serve it. Negations are pushed down to the comparisons, each
// spelled so that SQL's NULL cannot turn a true into an unknown (IS NOT /
// IS DISTINCT FROM, or "x IS NULL OR NOT …").
//
// # Access through relations
//
// A Schema that implements Guarded also says which records of each
// collection the caller may view. SQL then requires, in every relation
// subquery over a collection T, T's view rule for the caller, compiled
// over that related row (rules following relations are guarded in turn,
// all hops of the filter and of the rules sharing one MaxHops budget); a
// collection the caller may not view at all makes the hop match nothing.
// A related record the caller may not view thus counts as missing, which
// is what Eval sees when its caller loads related records with the
// caller's access. Without Guarded, relations read every related record:
// for trusted callers only.
//
// # Cost
//
// Eval lowers the literals searched for with ~ once, in Check, and
// searches record values without copying them; a literal list of more
// than 8 values becomes a set. Cost counts the comparisons of an
// expression (each in-list item as one), for callers that cap what a
// realtime filter may cost.
package expr
