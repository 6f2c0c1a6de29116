package password_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/password"
)

func newHasher(t testing.TB, p password.Params) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(password.Options{Params: p})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, password.Params{})
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q: want the PHC format with the default params", enc)
	}
	if enc2, _ := h.Hash(ctx, "correct horse battery staple"); enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		ok, rehash, err := h.Verify(ctx, tc.pw, enc)
		if err != nil || ok != tc.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tc.pw, ok, rehash, err, tc.want)
		}
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newHasher(t, password.Params{})
	enc, err := old.Hash(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	stronger := password.DefaultParams
	stronger.Time = 3
	longer := password.DefaultParams
	longer.KeyLen = 48
	for name, p := range map[string]password.Params{"time": stronger, "key length": longer} {
		cur := newHasher(t, p)
		ok, rehash, err := cur.Verify(ctx, "hunter2hunter2", enc)
		if err != nil || !ok || !rehash {
			t.Errorf("%s changed: Verify = %v, %v, %v; want true, true, nil", name, ok, rehash, err)
		}
		// A wrong password never asks for a rehash.
		if ok, rehash, _ := cur.Verify(ctx, "nope", enc); ok || rehash {
			t.Errorf("%s changed, wrong password: Verify = %v, %v", name, ok, rehash)
		}
		// The rehashed password verifies without a further rehash.
		enc2, _ := cur.Hash(ctx, "hunter2hunter2")
		if ok, rehash, err := cur.Verify(ctx, "hunter2hunter2", enc2); !ok || rehash || err != nil {
			t.Errorf("%s: rehashed Verify = %v, %v, %v", name, ok, rehash, err)
		}
	}
}

func TestNewHasherRejectsWeakParams(t *testing.T) {
	t.Parallel()
	for name, mod := range map[string]func(*password.Params){
		"memory":  func(p *password.Params) { p.Memory = 16 * 1024 },
		"time":    func(p *password.Params) { p.Time = 1 },
		"key":     func(p *password.Params) { p.KeyLen = 8 },
		"salt":    func(p *password.Params) { p.SaltLen = 4 },
		"threads": func(p *password.Params) { p.Threads = 0 },
		"huge":    func(p *password.Params) { p.Memory = 4 << 20 },
	} {
		p := password.DefaultParams
		mod(&p)
		if _, err := password.NewHasher(password.Options{Params: p}); err == nil {
			t.Errorf("%s: NewHasher(%+v) accepted", name, p)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, password.Params{})
	good, err := h.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$") // "", alg, v, params, salt, hash
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	for name, enc := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2b$10$abcdefghijklmnopqrstuuJQ5Jp5YJcnN4mJk8A3S5fPqtwmQk7u2",
		"argon2i":        join("", "argon2i", f[2], f[3], f[4], f[5]),
		"version 16":     join("", "argon2id", "v=16", f[3], f[4], f[5]),
		"no version":     join("", "argon2id", f[3], f[4], f[5]),
		"extra field":    good + "$x",
		"params order":   join("", "argon2id", f[2], "t=2,m=19456,p=1", f[4], f[5]),
		"params missing": join("", "argon2id", f[2], "m=19456,t=2", f[4], f[5]),
		"zero time":      join("", "argon2id", f[2], "m=19456,t=0,p=1", f[4], f[5]),
		"zero threads":   join("", "argon2id", f[2], "m=19456,t=2,p=0", f[4], f[5]),
		"tiny memory":    join("", "argon2id", f[2], "m=4,t=2,p=1", f[4], f[5]),
		"huge memory":    join("", "argon2id", f[2], "m=4194304,t=2,p=1", f[4], f[5]),
		"huge time":      join("", "argon2id", f[2], "m=19456,t=100000,p=1", f[4], f[5]),
		"negative":       join("", "argon2id", f[2], "m=-1,t=2,p=1", f[4], f[5]),
		"leading zero":   join("", "argon2id", f[2], "m=019456,t=2,p=1", f[4], f[5]),
		"overflow":       join("", "argon2id", f[2], "m=99999999999,t=2,p=1", f[4], f[5]),
		"salt padded":    join("", "argon2id", f[2], f[3], f[4]+"==", f[5]),
		"salt bad b64":   join("", "argon2id", f[2], f[3], "!!!!", f[5]),
		"salt short":     join("", "argon2id", f[2], f[3], "AAAA", f[5]),
		"hash short":     join("", "argon2id", f[2], f[3], f[4], "AAAA"),
		"hash missing":   join("", "argon2id", f[2], f[3], f[4], ""),
	} {
		ok, rehash, err := h.Verify(ctx, "password1", enc)
		if !errors.Is(err, password.ErrMalformedHash) || ok || rehash {
			t.Errorf("%s: Verify = %v, %v, %v; want ErrMalformedHash", name, ok, rehash, err)
		}
		if err != nil && strings.Contains(err.Error(), f[5]) {
			t.Errorf("%s: error quotes the hash: %v", name, err)
		}
	}
}

func TestNFKCEquivalence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, password.Params{})
	for _, tc := range []struct{ stored, typed string }{
		{"ﬁnancial-secret", "financial-secret"}, // U+FB01 ligature
		{"café-au-lait", "cafe\u0301-au-lait"},  // precomposed vs combining accent
		{"ｆｕｌｌｗｉｄｔｈ", "fullwidth"},              // fullwidth forms
	} {
		enc, err := h.Hash(ctx, tc.stored)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := h.Verify(ctx, tc.typed, enc); !ok || err != nil {
			t.Errorf("Verify(%q) against Hash(%q) = %v, %v; want a match", tc.typed, tc.stored, ok, err)
		}
	}
}

func TestDummyVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, password.Params{})
	enc, _ := h.Hash(ctx, "some password")
	// Same work as a real Verify: compare the best times of a few runs
	// each, taken in turns so that a busy spell on the machine (the other
	// tests of this package run in parallel) falls on both. Generous
	// bounds: this guards against DummyVerify doing no work at all, not
	// against small differences.
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	verify, dummy := time.Duration(1<<62), time.Duration(1<<62)
	for range 5 {
		verify = min(verify, timeIt(func() { h.Verify(ctx, "wrong", enc) }))
		dummy = min(dummy, timeIt(func() {
			if err := h.DummyVerify(ctx, "wrong"); err != nil {
				t.Error(err)
			}
		}))
	}
	if dummy < verify/3 || dummy > verify*3 {
		t.Errorf("DummyVerify took %v, Verify %v: want about the same", dummy, verify)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	h, err := password.NewHasher(password.Options{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Keep the only slot busy; callers with a short deadline must give up
	// waiting for it rather than queue past their deadline.
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			h.Hash(context.Background(), "long running")
		}
	})
	defer wg.Wait()
	defer stop.Store(true)
	time.Sleep(10 * time.Millisecond)
	var timedOut int
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := h.Hash(ctx, "impatient")
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			timedOut++
		}
	}
	if timedOut == 0 {
		t.Error("no Hash gave up waiting for the busy slot")
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.DummyVerify(canceled, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("DummyVerify with a canceled context = %v", err)
	}
	if _, _, err := h.Verify(canceled, "x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a canceled context = %v", err)
	}
}
