package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF    tokKind = iota
	tName           // a field name or a dotted path: title, author.name
	tRef            // @now, @request.auth.id (text holds what follows '@')
	tString         // "…" or '…' (text holds the decoded value)
	tNumber         // 12, -3.5, 1e3
	tTrue
	tFalse
	tNull
	tOp     // = != > >= < <= ~ !~ in !in
	tAnd    // &&
	tOr     // ||
	tNot    // !
	tLParen // (
	tRParen // )
	tComma  // ,
)

// token is one lexical token of the source.
type token struct {
	kind tokKind
	pos  int    // byte offset of its first byte
	text string // the name, ref, operator or decoded string
	num  float64
}

// describe names a token in error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return "string " + quote(t.text)
	case tRef:
		return `"@` + t.text + `"`
	default:
		return strconv.Quote(t.text)
	}
}

// lex splits src into tokens. Errors carry the byte offset they occur at.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; ; {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		t, next, err := lexOne(src, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = next
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isNameByte(c byte) bool { return isNameStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lexOne reads the token starting at src[i] and returns it with the offset
// after it.
func lexOne(src string, i int) (token, int, error) {
	c := src[i]
	two := ""
	if i+1 < len(src) {
		two = src[i : i+2]
	}
	op := func(k tokKind, text string) (token, int, error) {
		return token{kind: k, pos: i, text: text}, i + len(text), nil
	}
	switch {
	case isNameStart(c):
		return lexName(src, i)
	case c == '@':
		t, next, err := lexName(src, i+1)
		if err != nil || t.kind != tName {
			return token{}, 0, errAt(i, `expected a name after "@" (@now or @request.auth.<key>)`)
		}
		return token{kind: tRef, pos: i, text: t.text}, next, nil
	case c == '"' || c == '\'':
		return lexString(src, i)
	case isDigit(c) || c == '-':
		return lexNumber(src, i)
	case two == "&&":
		return op(tAnd, "&&")
	case two == "||":
		return op(tOr, "||")
	case two == "!=", two == ">=", two == "<=", two == "!~":
		return op(tOp, two)
	case two == "!i" && strings.HasPrefix(src[i:], "!in") && (i+3 == len(src) || !isNameByte(src[i+3])):
		return op(tOp, "!in")
	case c == '=' || c == '>' || c == '<' || c == '~':
		if two == "==" {
			return token{}, 0, errAt(i, `unexpected "==": equality is "="`)
		}
		return op(tOp, src[i:i+1])
	case c == '!':
		return op(tNot, "!")
	case c == '(':
		return op(tLParen, "(")
	case c == ')':
		return op(tRParen, ")")
	case c == ',':
		return op(tComma, ",")
	case c == '&':
		return token{}, 0, errAt(i, `unexpected "&": "and" is "&&"`)
	case c == '|':
		return token{}, 0, errAt(i, `unexpected "|": "or" is "||"`)
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return token{}, 0, errAt(i, fmt.Sprintf("unexpected character %q (U+%04X)", r, r))
}

// lexName reads a name or a dotted path (no spaces around the dots), or
// one of the words true, false, null, in.
func lexName(src string, i int) (token, int, error) {
	start := i
	if i >= len(src) || !isNameStart(src[i]) {
		return token{}, 0, errAt(i, "expected a name")
	}
	for {
		for i < len(src) && isNameByte(src[i]) {
			i++
		}
		if i+1 < len(src) && src[i] == '.' && isNameStart(src[i+1]) {
			i++
			continue
		}
		if i < len(src) && src[i] == '.' {
			return token{}, 0, errAt(i, "expected a name after \".\"")
		}
		break
	}
	text := src[start:i]
	kind := tName
	switch text {
	case "true":
		kind = tTrue
	case "false":
		kind = tFalse
	case "null":
		kind = tNull
	case "in":
		kind = tOp
	}
	return token{kind: kind, pos: start, text: text}, i, nil
}

// lexNumber reads -?digits(.digits)?([eE][+-]?digits)?.
func lexNumber(src string, i int) (token, int, error) {
	start := i
	digits := func() bool {
		j := i
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		return i > j
	}
	if src[i] == '-' {
		i++
	}
	if !digits() {
		return token{}, 0, errAt(start, `expected digits after "-"`)
	}
	if i < len(src) && src[i] == '.' {
		i++
		if !digits() {
			return token{}, 0, errAt(i, `expected digits after "."`)
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if !digits() {
			return token{}, 0, errAt(i, "expected digits in the exponent")
		}
	}
	if i < len(src) && (isNameByte(src[i]) || src[i] == '.') {
		return token{}, 0, errAt(i, "unexpected "+strconv.Quote(src[i:i+1])+" after a number")
	}
	text := src[start:i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return token{}, 0, errAt(start, "number "+text+" is out of range")
	}
	return token{kind: tNumber, pos: start, text: text, num: f}, i, nil
}

// lexString reads a quoted string and decodes its escapes.
func lexString(src string, i int) (token, int, error) {
	start, q := i, src[i]
	var b strings.Builder
	i++
	for {
		if i >= len(src) {
			return token{}, 0, errAt(start, "unterminated string")
		}
		c := src[i]
		switch {
		case c == q:
			return token{kind: tString, pos: start, text: b.String()}, i + 1, nil
		case c == '\\':
			next, err := lexEscape(src, i, &b)
			if err != nil {
				return token{}, 0, err
			}
			i = next
		default:
			b.WriteByte(c)
			i++
		}
	}
}

// lexEscape decodes the escape at src[i] ('\\') into b.
func lexEscape(src string, i int, b *strings.Builder) (int, error) {
	if i+1 >= len(src) {
		return 0, errAt(i, "unterminated string")
	}
	switch e := src[i+1]; e {
	case '"', '\'', '\\':
		b.WriteByte(e)
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'u':
		r, next, err := lexUnicode(src, i)
		if err != nil {
			return 0, err
		}
		b.WriteRune(r)
		return next, nil
	default:
		r, _ := utf8.DecodeRuneInString(src[i+1:])
		return 0, errAt(i, fmt.Sprintf(`unknown escape "\%c" (use \" \' \\ \n \t \r or \uXXXX)`, r))
	}
	return i + 2, nil
}

// lexUnicode decodes \uXXXX at src[i], or a surrogate pair \uD83D\uDE00.
func lexUnicode(src string, i int) (rune, int, error) {
	hex := func(j int) (rune, bool) {
		if j+6 > len(src) || src[j] != '\\' || src[j+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(src[j+2:j+6], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex(i)
	if !ok {
		return 0, 0, errAt(i, `expected four hex digits after "\u"`)
	}
	if !utf16.IsSurrogate(r) {
		if r == 0 {
			return 0, 0, errAt(i, "strings cannot contain NUL")
		}
		return r, i + 6, nil
	}
	r2, ok := hex(i + 6)
	if c := utf16.DecodeRune(r, r2); ok && c != utf8.RuneError {
		return c, i + 12, nil
	}
	return 0, 0, errAt(i, `unpaired surrogate in "\u" escape`)
}
