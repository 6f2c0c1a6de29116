package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/store"
)

// bam runs the command line in-process and returns what it printed.
func bam(t *testing.T, args ...string) string {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("bam %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestAdminCreateIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	const email = "boss@example.com"
	if out := bam(t, "--data-dir", dir, "admin", "create", "--email", email, "--password", "first password 1"); !strings.Contains(out, "created") {
		t.Fatalf("first run: %q", out)
	}
	if out := bam(t, "--data-dir", dir, "admin", "create", "--email", email, "--password", "second password 2"); !strings.Contains(out, "updated") {
		t.Fatalf("second run: %q", out)
	}

	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "auth.db"), store.Options{Name: "auth"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var users, roles int
	var hash string
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().QueryRowContext(ctx, `SELECT u.password_hash, COUNT(*) FROM auth_users u
		JOIN auth_subject_roles s ON s.subject = u.id JOIN auth_roles r ON r.name = s.role
		WHERE u.email = $1 AND r.permissions LIKE '%"admin"%' GROUP BY u.password_hash`, email).Scan(&hash, &roles); err != nil {
		t.Fatal(err)
	}
	if users != 1 || roles != 1 {
		t.Fatalf("%d users, admin has %d admin roles", users, roles)
	}
	hasher, err := password.NewHasher(password.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := hasher.Verify(ctx, "second password 2", hash); err != nil || !ok {
		t.Fatalf("the second password does not verify: %v", err)
	}
}

func TestRotateKeys(t *testing.T) {
	dir := t.TempDir()
	kid := regexp.MustCompile(`new kid (\S+)`)
	first := kid.FindStringSubmatch(bam(t, "--data-dir", dir, "auth", "rotate-keys"))
	second := kid.FindStringSubmatch(bam(t, "--data-dir", dir, "auth", "rotate-keys"))
	if first == nil || second == nil || first[1] == second[1] {
		t.Fatalf("rotations: %v, %v", first, second)
	}
}
