package authn

import "testing"

// TestTokenCacheComparesTokens: two tokens under one key (a hash
// collision) are told apart, and an entry keeps its own copy of the token.
func TestTokenCacheComparesTokens(t *testing.T) {
	c, err := newTokenCache(16)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("token-a")
	c.add(42, string(buf), &Principal{Subject: "a"})
	if _, ok := c.get(42, "token-b"); ok {
		t.Fatal("another token under the same key was taken for the cached one")
	}
	copy(buf, "token-x") // the caller's buffer is reused
	if p, ok := c.get(42, "token-a"); !ok || p.Subject != "a" {
		t.Fatalf("get = %v, %v; want a", p, ok)
	}
}
