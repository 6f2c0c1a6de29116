package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/config"
)

// TestREADMETable keeps the README's configuration table generated from
// the struct: regenerate it with `go run ./cmd/bam config docs`.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the config-table markers")
	}
	if got, want := s[i+len(begin):j], config.MarkdownTable(); got != want {
		t.Errorf("README configuration table is stale; replace it with the output of `go run ./cmd/bam config docs`:\n%s", want)
	}
}
