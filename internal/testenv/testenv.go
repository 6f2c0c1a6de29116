// Package testenv tells tests where the external services they need are.
//
// A test that needs PostgreSQL, Redis or an external NATS server asks for its
// URL here. When the BAM_TEST_* variable is unset the test is skipped, unless
// BAM_TEST_REQUIRE_SERVICES=1 (set by CI), in which case it fails: CI must
// never pass by silently skipping what it was meant to run.
package testenv

import (
	"net"
	"os"
	"testing"
	"time"
)

// Environment variables naming the services tests may use.
const (
	PostgresVar = "BAM_TEST_POSTGRES_URL"
	RedisVar    = "BAM_TEST_REDIS_URL"
	NATSVar     = "BAM_TEST_NATS_URL"
	RequireVar  = "BAM_TEST_REQUIRE_SERVICES"
)

// PostgresURL returns the PostgreSQL URL for tests, or skips t.
func PostgresURL(t testing.TB) string { return lookup(t, PostgresVar) }

// RedisURL returns the Redis URL for tests, or skips t.
func RedisURL(t testing.TB) string { return lookup(t, RedisVar) }

// NATSURL returns the external NATS URL for tests, or skips t.
func NATSURL(t testing.TB) string { return lookup(t, NATSVar) }

// Has reports whether the variable is set, without skipping; for tests that
// run once per available backend.
func Has(name string) bool { return os.Getenv(name) != "" }

func lookup(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv(RequireVar) == "1" {
		t.Fatalf("%s is not set but %s=1: this test must run", name, RequireVar)
	}
	t.Skipf("%s is not set", name)
	return ""
}

// FreeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago. All n ports are held open together before being released,
// so the kernel cannot hand out the same one twice; prefer port 0 where
// the code under test can report the port it bound.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// FreeAddr is FreeAddrs for one address.
func FreeAddr(t testing.TB) string { return FreeAddrs(t, 1)[0] }

// WaitFor polls cond every few milliseconds until it holds, and returns how
// long that took; it fails t (naming what was awaited) if cond still does
// not hold after within.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
