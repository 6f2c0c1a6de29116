package authn_test

import (
	"context"
	"testing"

	"github.com/bamhq/bam/internal/authn"
)

func TestHasPermission(t *testing.T) {
	tests := []struct {
		held []string
		perm string
		want bool
	}{
		{[]string{"content.posts.write"}, "content.posts.write", true},
		{[]string{"content.posts.write"}, "content.posts.read", false},
		{[]string{"content.posts.*"}, "content.posts.write", true},
		{[]string{"content.posts.*"}, "content.posts.drafts.read", true},
		{[]string{"content.posts.*"}, "content.posts", false},
		{[]string{"content.posts.*"}, "content.postsx.write", false},
		{[]string{"content.*"}, "content.posts.write", true},
		{[]string{"content.*"}, "contentx.posts", false},
		{[]string{"content.*"}, "files.read", false},
		{[]string{"admin"}, "files.buckets.delete", true},
		{[]string{"*"}, "files.read", false},
		{[]string{"files.read", "content.*"}, "content.x", true},
		{nil, "content.posts.write", false},
		{[]string{"admin"}, "", false},
	}
	for _, tt := range tests {
		p := &authn.Principal{Permissions: tt.held}
		if got := p.HasPermission(tt.perm); got != tt.want {
			t.Errorf("%v HasPermission(%q) = %v, want %v", tt.held, tt.perm, got, tt.want)
		}
	}
	var nobody *authn.Principal
	if nobody.HasPermission("x") || nobody.HasRole("x") {
		t.Error("nil principal has something")
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := authn.FromContext(ctx); ok {
		t.Fatal("anonymous context has a principal")
	}
	p := &authn.Principal{Subject: "usr_1", Roles: []string{"editor"}}
	got, ok := authn.FromContext(authn.WithPrincipal(ctx, p))
	if !ok || got != p || !got.HasRole("editor") || got.HasRole("admin") {
		t.Fatalf("FromContext = %v, %v", got, ok)
	}
}
