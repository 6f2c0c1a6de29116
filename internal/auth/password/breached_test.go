package password_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/errs"
)

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// writeList writes a sorted breach list of pws (count i+1 for the i-th) plus
// filler hashes, with the given line ending.
func writeList(t *testing.T, pws []string, filler int, eol string) string {
	t.Helper()
	var lines []string
	for i, pw := range pws {
		lines = append(lines, fmt.Sprintf("%s:%d", sha1Hex(pw), i+1))
	}
	for i := range filler {
		lines = append(lines, fmt.Sprintf("%s:%d", sha1Hex(fmt.Sprint("filler-", i)), i%1000+1))
	}
	slices.Sort(lines)
	path := filepath.Join(t.TempDir(), "pwned.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, eol)+eol), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBreached(t *testing.T) {
	t.Parallel()
	pws := []string{"password", "123456", "qwertyuiop", "ﬁnancial"}
	for _, eol := range []string{"\n", "\r\n"} {
		b, err := password.OpenBreached(writeList(t, pws, 5000, eol))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		for i, pw := range pws {
			if n, err := b.Count(pw); n != i+1 || err != nil {
				t.Errorf("eol %q: Count(%q) = %d, %v; want %d", eol, pw, n, err, i+1)
			}
		}
		for i := range 5000 {
			if n, err := b.Count(fmt.Sprint("filler-", i)); n != i%1000+1 || err != nil {
				t.Fatalf("eol %q: Count(filler-%d) = %d, %v", eol, i, n, err)
			}
		}
		for _, pw := range []string{"not in the list", "", "Password", "filler-5000"} {
			if n, err := b.Count(pw); n != 0 || err != nil {
				t.Errorf("eol %q: Count(%q) = %d, %v; want 0", eol, pw, n, err)
			}
		}
		// The NFKC form is looked up too.
		if n, _ := b.Count("financial"); n != 0 {
			t.Errorf("Count(financial) = %d: only the ligature spelling is listed", n)
		}
	}
}

func TestBreachedEdges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	// One line, no trailing newline, lower-case hex, no count.
	b, err := password.OpenBreached(write("one", strings.ToLower(sha1Hex("only"))))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.Count("only"); n != 1 || err != nil {
		t.Errorf("Count(only) = %d, %v", n, err)
	}
	if n, err := b.Count("other"); n != 0 || err != nil {
		t.Errorf("Count(other) = %d, %v", n, err)
	}
	empty, err := password.OpenBreached(write("empty", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if n, err := empty.Count("x"); n != 0 || err != nil {
		t.Errorf("empty: Count = %d, %v", n, err)
	}
	if _, err := password.OpenBreached(write("bad", "not a hash list\n")); err == nil {
		t.Error("OpenBreached accepted a file that is not a hash list")
	}
	if _, err := password.OpenBreached(filepath.Join(dir, "missing")); err == nil {
		t.Error("OpenBreached accepted a missing file")
	}
}

func TestPolicyBreached(t *testing.T) {
	t.Parallel()
	b, err := password.OpenBreached(writeList(t, []string{"password123"}, 100, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := password.Policy{Breached: b}
	e := errs.As(p.Validate("password123"))
	if e == nil || e.Kind != errs.Invalid || e.Code != password.CodeBreached || len(e.Fields) != 1 || e.Fields[0].Field != "password" {
		t.Errorf("Validate(breached) = %#v", e)
	}
	if err := p.Validate("a much better passphrase"); err != nil {
		t.Errorf("Validate(fresh) = %v", err)
	}
}
