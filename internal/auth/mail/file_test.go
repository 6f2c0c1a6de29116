package mail_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/mail/mailtest"
)

// logLines decodes the JSON log lines written to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestFileSender(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail") // created by Open
	var logs bytes.Buffer
	s, err := mail.Open("file://"+filepath.ToSlash(dir), from, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), verifyMail(t, "alice@example.com")); err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("eml files: %v, %v", files, err)
	}
	if base := filepath.Base(files[0]); !strings.Contains(base, "-alice_at_example.com-") {
		t.Errorf("file name %q does not name the recipient", base)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := mailtest.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", files[0], err)
	}
	for h, want := range map[string]string{"From": `"Acme" <no-reply@acme.test>`, "To": "<alice@example.com>"} {
		if v := strings.Join(got.Header[h], ","); v != want {
			t.Errorf("%s: %q, want %q", h, v, want)
		}
	}
	for _, h := range []string{"Date", "Message-Id", "Mime-Version"} {
		if len(got.Header[h]) != 1 {
			t.Errorf("header %s missing: %v", h, got.Header)
		}
	}
	if got.Subject != "Confirm your email address for Acme" {
		t.Errorf("subject %q", got.Subject)
	}
	// The text part is 8-bit, so the raw file reads as the mail does.
	if !bytes.Contains(raw, []byte("https://acme.test/verify?token=abc123\r\n")) {
		t.Errorf("raw file lacks a readable link:\n%s", raw)
	}

	lines := logLines(t, &logs)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1", len(lines))
	}
	want := map[string]any{
		"msg": "mail written", "to": "alice@example.com", "subject": "Confirm your email address for Acme",
		"path": files[0], "link": "https://acme.test/verify?token=abc123",
	}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("log %s = %v, want %v", k, lines[0][k], v)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s, err := mail.Open("log:", from, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.Render(mail.MagicLink, mail.Data{To: "bob@example.com", Code: "482913"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &logs)
	if len(lines) != 1 || lines[0]["to"] != "bob@example.com" || !strings.Contains(lines[0]["text"].(string), "482913") {
		t.Errorf("log = %v", lines)
	}
	if err := s.Send(t.Context(), mail.Message{To: "bob@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "hi"}); err == nil {
		t.Error("a subject with a line break was accepted")
	}
	if err := s.Send(t.Context(), mail.Message{To: "not an address", Text: "hi"}); err == nil {
		t.Error("a bad recipient was accepted")
	}
}

func TestDefaultURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	u := mail.DefaultURL(dir)
	if want := "file://" + filepath.ToSlash(filepath.Join(dir, "mail")); u != want {
		t.Errorf("DefaultURL = %s, want %s", u, want)
	}
	if _, err := mail.Open(u, from, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "mail")); err != nil || !fi.IsDir() {
		t.Errorf("mail directory not created: %v", err)
	}
}
