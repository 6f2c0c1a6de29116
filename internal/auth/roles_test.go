package auth_test

import (
	"slices"
	"testing"
)

func TestRolesInTokens(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		admin := h.adminToken()
		role := h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "editor", "description": "writes posts",
			"permissions": []string{"files.avatars.*", "content.posts.write", "content.posts.write"}}, admin).expect(t, 201, "")
		if got := strs(role.Body["permissions"]); !slices.Equal(got, []string{"content.posts.write", "files.avatars.*"}) {
			t.Fatalf("permissions not sorted and deduplicated: %s", role.Raw)
		}
		h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "editor", "permissions": []string{}}, admin).
			expect(t, 409, "auth.role_exists")
		for _, bad := range []string{"Content.posts", "content..posts", "*", "content.*.write", "admin*", "content posts", ""} {
			h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "bad", "permissions": []string{bad}}, admin).
				expect(t, 400, "auth.invalid_permission")
		}
		h.call("POST", "/v1/auth/admin/roles", map[string]any{"name": "Bad Name", "permissions": []string{}}, admin).
			expect(t, 400, "auth.invalid_role")

		h.signUp("ed@example.com", pw)
		tok := h.signIn("ed@example.com", pw).expect(t, 200, "")
		id := jwtClaims(t, tok.str("access_token"))["sub"].(string)
		if c := jwtClaims(t, tok.str("access_token")); len(strs(c["roles"])) != 0 {
			t.Fatalf("roles before assignment: %v", c["roles"])
		}
		h.call("PUT", "/v1/auth/admin/users/"+id+"/roles", map[string]any{"roles": []string{"ghost"}}, admin).
			expect(t, 400, "auth.unknown_role")
		u := h.call("PUT", "/v1/auth/admin/users/"+id+"/roles", map[string]any{"roles": []string{"editor"}}, admin).
			expect(t, 200, "")
		if !slices.Equal(strs(u.Body["roles"]), []string{"editor"}) {
			t.Fatalf("user after assignment = %s", u.Raw)
		}

		// The change shows at the next refresh.
		next := h.refresh(tok.str("refresh_token")).expect(t, 200, "")
		c := jwtClaims(t, next.str("access_token"))
		if !slices.Equal(strs(c["roles"]), []string{"editor"}) ||
			!slices.Equal(strs(c["permissions"]), []string{"content.posts.write", "files.avatars.*"}) {
			t.Fatalf("claims after refresh = %v", c)
		}

		// Editing the role changes what its holders get.
		h.call("PATCH", "/v1/auth/admin/roles/editor", map[string]any{"permissions": []string{"content.*"}}, admin).
			expect(t, 200, "")
		got := h.call("GET", "/v1/auth/admin/roles/editor", nil, admin).expect(t, 200, "")
		if got.str("description") != "writes posts" || !slices.Equal(strs(got.Body["permissions"]), []string{"content.*"}) {
			t.Fatalf("role after patch = %s", got.Raw)
		}
		next = h.refresh(next.str("refresh_token")).expect(t, 200, "")
		if c := jwtClaims(t, next.str("access_token")); !slices.Equal(strs(c["permissions"]), []string{"content.*"}) {
			t.Fatalf("claims after role change = %v", c)
		}

		// Deleting the role takes it from everyone.
		h.call("DELETE", "/v1/auth/admin/roles/editor", nil, admin).expect(t, 204, "")
		h.call("DELETE", "/v1/auth/admin/roles/editor", nil, admin).expect(t, 404, "auth.role_not_found")
		next = h.refresh(next.str("refresh_token")).expect(t, 200, "")
		if c := jwtClaims(t, next.str("access_token")); len(strs(c["roles"])) != 0 || len(strs(c["permissions"])) != 0 {
			t.Fatalf("claims after role deletion = %v", c)
		}
		list := h.call("GET", "/v1/auth/admin/roles", nil, admin).expect(t, 200, "")
		if items := asSlice(list.Body["items"]); len(items) != 1 || items[0].(map[string]any)["name"] != "admin" {
			t.Fatalf("roles = %s", list.Raw)
		}
	})
}
