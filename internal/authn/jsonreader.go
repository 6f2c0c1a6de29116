package authn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// reader scans one JSON value at a time.
type reader struct {
	s []byte
	i int
}

var errSyntax = errors.New("invalid JSON")

func (p *reader) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (p *reader) peek() byte {
	if p.ws(); p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *reader) lit(word string) bool {
	if p.peek() == word[0] && len(p.s)-p.i >= len(word) && string(p.s[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *reader) null() bool { return p.lit("null") }

func (p *reader) boolean() (bool, error) {
	switch {
	case p.lit("true"):
		return true, nil
	case p.lit("false"):
		return false, nil
	}
	return false, errSyntax
}

// object calls member for each key, with the reader at the value.
func (p *reader) object(member func(key string) error) error {
	if p.peek() != '{' {
		return errSyntax
	}
	p.i++
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return err
		}
		if p.peek() != ':' {
			return errSyntax
		}
		p.i++
		if err := member(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (p *reader) str() (string, error) {
	if p.peek() != '"' {
		return "", errSyntax
	}
	start := p.i
	escaped := false
	for p.i++; p.i < len(p.s); p.i++ {
		switch b := p.s[p.i]; {
		case b == '"':
			p.i++
			raw := p.s[start:p.i]
			if escaped { // rare in tokens: let encoding/json unescape
				var s string
				err := json.Unmarshal(raw, &s)
				return s, err
			}
			if !utf8.Valid(raw) {
				return "", errors.New("invalid UTF-8")
			}
			return string(raw[1 : len(raw)-1]), nil
		case b == '\\':
			escaped = true
			p.i++
		case b < 0x20:
			return "", errSyntax
		}
	}
	return "", errSyntax
}

func (p *reader) strs() ([]string, error) {
	if p.peek() != '[' {
		return nil, errSyntax
	}
	p.i++
	out := []string{}
	if p.peek() == ']' {
		p.i++
		return out, nil
	}
	for {
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, nil
		default:
			return nil, errSyntax
		}
	}
}

// number reads a JSON number (RFC 8259 §6 grammar, nothing laxer).
func (p *reader) number() (float64, error) {
	p.ws()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i, n = p.i+1, n+1
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	intStart := p.i
	if n := digits(); n == 0 || n > 1 && p.s[intStart] == '0' {
		return 0, errSyntax
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		if p.i++; digits() == 0 {
			return 0, errSyntax
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		if p.i++; p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return 0, errSyntax
		}
	}
	return strconv.ParseFloat(string(p.s[start:p.i]), 64)
}

func (p *reader) date() (*numericDate, error) {
	f, err := p.number()
	if err != nil {
		return nil, err
	}
	if f < 0 || f > 1<<40 || math.IsNaN(f) {
		return nil, fmt.Errorf("date %v out of range", f)
	}
	d := numericDate(f)
	return &d, nil
}

// skip passes over one value of any type, nested at most 32 deep.
func (p *reader) skip(depth int) error {
	if depth > 32 {
		return errors.New("nested too deep")
	}
	switch b := p.peek(); {
	case b == '"':
		_, err := p.str()
		return err
	case b == '{':
		return p.object(func(string) error { return p.skip(depth + 1) })
	case b == '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return errSyntax
			}
		}
	case p.lit("true"), p.lit("false"), p.null():
		return nil
	}
	_, err := p.number()
	return err
}
