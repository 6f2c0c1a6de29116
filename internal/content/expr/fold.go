package expr

import "strings"

// ~ is "contains", folding ASCII letters only (see the package doc). The
// search below neither copies nor lowers the values it reads: Eval runs it
// once per pair of values, on texts of up to a million characters.

// lowerASCII lowers an ASCII capital; any other byte (UTF-8 sequences of
// other letters included) is itself.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// asciiLower returns s with its ASCII capitals lowered. Check uses it on
// literals, once.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// hasASCIILetter reports whether s has a byte that case folding changes.
func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := lowerASCII(s[i]); 'a' <= c && c <= 'z' {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains sub, ASCII letters folded: the
// same as strings.Contains(asciiLower(s), asciiLower(sub)), without the
// copies.
//
// Candidates are the positions of one byte of sub, the anchor (the one
// likely rarest in text, in either case for a letter), found with
// strings.IndexByte; each is then compared byte by byte. Should the
// comparisons cost more than a few passes over s (a text like "aaaa…"
// searched for "aaab"), the rest of s is searched with a rolling hash,
// which is linear.
func containsFold(s, sub string) bool {
	n := len(sub)
	switch {
	case n == 0:
		return true
	case n > len(s):
		return false
	case !hasASCIILetter(sub):
		return strings.Contains(s, sub)
	}
	k := anchor(sub)
	lo := lowerASCII(sub[k])
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - ('a' - 'A')
	}
	// The anchor of a match starting at i is at i+k, i in [0, len(s)-n].
	from, end := k, len(s)-n+k+1
	nl, nu := indexFrom(s, from, end, lo), -1
	if up != lo {
		nu = indexFrom(s, from, end, up)
	}
	budget := 2*len(s) + 256
	for nl >= 0 || nu >= 0 {
		a := nl
		if a < 0 || (nu >= 0 && nu < a) {
			a = nu
		}
		i := a - k
		m := prefixFold(s[i:i+n], sub)
		if m == n {
			return true
		}
		if budget -= m + 1; budget < 0 {
			return rabinKarpFold(s[i+1:], sub)
		}
		if a == nl {
			nl = indexFrom(s, a+1, end, lo)
		}
		if a == nu {
			nu = indexFrom(s, a+1, end, up)
		}
	}
	return false
}

// anchor is the index of the byte of sub likely rarest in text.
func anchor(sub string) int {
	best, bestScore := 0, 256
	for i := 0; i < len(sub); i++ {
		if s := int(commonness[lowerASCII(sub[i])]); s < bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// commonness ranks bytes by how often they occur in text, roughly:
// spaces, then letters by their frequency in English (each also found in
// its capital form, so counted twice as common as it is), then bytes of
// UTF-8 sequences, common punctuation, digits, and the rest.
var commonness = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= 0x80:
			t[c] = 120
		case '0' <= c && c <= '9':
			t[c] = 60
		default:
			t[c] = 40
		}
	}
	for _, c := range []byte(".,-'\"") {
		t[c] = 100
	}
	for i, c := range []byte("etaoinshrdlcumwfgypbvkjxqz") {
		t[c] = uint8(250 - 4*i)
	}
	t[' '], t['\n'], t['\t'] = 255, 200, 200
	return t
}()

// indexFrom is the index of the first c in s[from:end], or -1.
func indexFrom(s string, from, end int, c byte) int {
	if from >= end {
		return -1
	}
	j := strings.IndexByte(s[from:end], c)
	if j < 0 {
		return -1
	}
	return from + j
}

// prefixFold is the number of leading bytes of a and b (as long as a) that
// are equal, ASCII letters folded.
func prefixFold(a, b string) int {
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return i
		}
	}
	return len(a)
}

// primeRK is the base of the rolling hash (as in package strings).
const primeRK = 16777619

// rabinKarpFold is containsFold by rolling hash over the folded bytes.
func rabinKarpFold(s, sub string) bool {
	n := len(sub)
	if n > len(s) {
		return false
	}
	var want, pow uint32 = 0, 1
	for i := 0; i < n; i++ {
		want = want*primeRK + uint32(lowerASCII(sub[i]))
		pow *= primeRK
	}
	var h uint32
	for i := 0; i < n; i++ {
		h = h*primeRK + uint32(lowerASCII(s[i]))
	}
	for i := n; ; i++ {
		if h == want && prefixFold(s[i-n:i], sub) == n {
			return true
		}
		if i == len(s) {
			return false
		}
		h = h*primeRK + uint32(lowerASCII(s[i])) - pow*uint32(lowerASCII(s[i-n]))
	}
}
