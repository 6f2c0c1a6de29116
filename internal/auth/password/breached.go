package password

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Breached is a local list of breached passwords, looked up without loading
// it: a binary search over the sorted file, a few dozen small reads per
// lookup even for the full Have I Been Pwned corpus (tens of GB).
//
// File format: one line per password, "HASH:COUNT" or "HASH", where HASH is
// the SHA-1 of the password's UTF-8 bytes as 40 hex digits and COUNT how often
// it was seen (decimal); lines end in "\n" or "\r\n"; the file is sorted by
// HASH, ascending, ignoring the case of the hex digits. That is the format of
// Have I Been Pwned's "ordered by hash" SHA-1 downloads and of the single file
// its PwnedPasswordsDownloader writes. Range API responses (one per 5-hex-digit
// prefix, lines "SUFFIX:COUNT") become this format by prefixing each line with
// its range's prefix and concatenating the ranges in prefix order. A file that
// is not sorted gives wrong answers, not errors.
//
// A Breached is safe for concurrent use.
type Breached struct {
	f    *os.File
	size int64
}

// hashLen is the length of a hex SHA-1, and maxLine bounds a line: the hash,
// ':', a count and "\r\n" fit easily.
const (
	hashLen = 2 * sha1.Size
	maxLine = 128
)

// OpenBreached opens the list at path and checks that its first line has the
// expected shape.
func OpenBreached(path string) (*Breached, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("password: open breach list: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("password: open breach list: %w", err)
	}
	b := &Breached{f: f, size: st.Size()}
	if b.size > 0 {
		line, err := b.lineAt(0)
		if err == nil {
			_, _, err = parseBreachLine(line)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("password: breach list %s: %w", path, err)
		}
	}
	return b, nil
}

// Close closes the file.
func (b *Breached) Close() error { return b.f.Close() }

// Count returns how often pw was seen in breaches, 0 if never. It looks up pw
// as given and, if different, its NFKC form.
func (b *Breached) Count(pw string) (int, error) {
	n, err := b.count(pw)
	if err != nil || n > 0 {
		return n, err
	}
	if npw := Normalize(pw); npw != pw {
		return b.count(npw)
	}
	return 0, nil
}

func (b *Breached) count(pw string) (int, error) {
	sum := sha1.Sum([]byte(pw))
	var target [hashLen]byte
	hex.Encode(target[:], sum[:])
	upper(target[:])

	// Find the first line whose hash is >= target: lines are found by the
	// first line start at or after a byte offset, which grows with it.
	lo, hi := int64(0), b.size
	for lo < hi {
		mid := lo + (hi-lo)/2
		line, err := b.lineAt(mid)
		if err != nil {
			return 0, err
		}
		if line != nil && compareHash(line, target[:]) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	line, err := b.lineAt(lo)
	if err != nil || line == nil || compareHash(line, target[:]) != 0 {
		return 0, err
	}
	_, n, err := parseBreachLine(line)
	return n, err
}

// lineAt returns the first line that starts at or after off, without its line
// ending, or nil if there is none.
func (b *Breached) lineAt(off int64) ([]byte, error) {
	from := max(off-1, 0) // a line starts at off if byte off-1 is '\n'
	buf := make([]byte, 2*maxLine)
	n, err := b.f.ReadAt(buf, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("password: read breach list: %w", err)
	}
	buf = buf[:n]
	eof := from+int64(n) >= b.size
	start := 0
	if off > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if eof {
				return nil, nil
			}
			return nil, errors.New("password: breach list: line too long")
		}
		start = i + 1
	}
	rest := buf[start:]
	if len(rest) == 0 {
		return nil, nil
	}
	end := bytes.IndexByte(rest, '\n')
	if end < 0 {
		if !eof {
			return nil, errors.New("password: breach list: line too long")
		}
		end = len(rest)
	}
	return bytes.TrimSuffix(rest[:end], []byte("\r")), nil
}

// compareHash compares the hash at the start of line with target (upper-case
// hex); a short line sorts first and fails parseBreachLine later.
func compareHash(line, target []byte) int {
	if len(line) < hashLen {
		return bytes.Compare(line, target)
	}
	var h [hashLen]byte
	copy(h[:], line)
	upper(h[:])
	return bytes.Compare(h[:], target)
}

// parseBreachLine splits "HASH[:COUNT]".
func parseBreachLine(line []byte) (hash []byte, count int, err error) {
	hash, cnt, found := bytes.Cut(line, []byte(":"))
	if len(hash) != hashLen {
		return nil, 0, errors.New("want lines of 40 hex digits, optionally followed by :COUNT")
	}
	if _, err := hex.Decode(make([]byte, sha1.Size), hash); err != nil {
		return nil, 0, errors.New("want lines of 40 hex digits, optionally followed by :COUNT")
	}
	if !found {
		return hash, 1, nil
	}
	count, err = strconv.Atoi(string(cnt))
	if err != nil || count < 1 {
		return nil, 0, errors.New("bad count after ':'")
	}
	return hash, count, nil
}

// upper turns lower-case ASCII letters in b to upper case, in place.
func upper(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
}
