package keys_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

func TestRotateWithoutDowntime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c, clk := ctx(t), newClock()
		opts := keys.Options{TokenTTL: 10 * time.Minute, RefreshInterval: 5 * time.Second, Leeway: time.Minute, Clock: clk.Now}
		m := newManager(t, db, opts)
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		oldTok, _ := m.Sign(c, map[string]any{"sub": "a"})
		old, _ := m.Signer(c)

		clk.Advance(time.Hour)
		newKID, err := m.Rotate(c)
		if err != nil || newKID == old.KID {
			t.Fatalf("Rotate = %q, %v (old %s)", newKID, err, old.KID)
		}
		newTok, _ := m.Sign(c, map[string]any{"sub": "b"})
		jwks, _ := m.JWKS(c)
		if got := kids(jwks); got != newKID+","+old.KID {
			t.Fatalf("JWKS after rotation = %s, want new then old", got)
		}
		if kid, _ := verify(t, jwks, newTok, keys.TypeAccessToken); kid != newKID {
			t.Errorf("new token signed by %s, want %s", kid, newKID)
		}
		if kid, _ := verify(t, jwks, oldTok, keys.TypeAccessToken); kid != old.KID {
			t.Errorf("old token signed by %s, want %s", kid, old.KID)
		}

		// Published until TokenTTL + RefreshInterval + Leeway after retiring.
		published := opts.TokenTTL + opts.RefreshInterval + opts.Leeway
		clk.Advance(published - time.Second)
		if jwks, _ := m.JWKS(c); len(jwks.Keys) != 2 {
			t.Fatalf("JWKS just before expiry = %s, want both keys", kids(jwks))
		}
		if n, err := m.Prune(c); n != 0 || err != nil {
			t.Fatalf("Prune before expiry = %d, %v", n, err)
		}
		clk.Advance(time.Second)
		if jwks, _ := m.JWKS(c); kids(jwks) != newKID {
			t.Fatalf("JWKS after expiry = %s, want only %s", kids(jwks), newKID)
		}
		if n, err := m.Prune(c); n != 1 || err != nil {
			t.Fatalf("Prune = %d, %v; want 1", n, err)
		}
		infos, _ := m.Keys(c)
		if len(infos) != 1 || infos[0].KID != newKID || !infos[0].Active() {
			t.Fatalf("keys after Prune = %+v", infos)
		}
	}, keys.Migrations)
}

func TestSecondManagerSeesRotation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c, clk := ctx(t), newClock()
		opts := keys.Options{RefreshInterval: 3 * time.Second, Clock: clk.Now}
		m1, m2 := newManager(t, db, opts), newManager(t, db, opts)
		if err := m1.Ensure(c); err != nil {
			t.Fatal(err)
		}
		k1, err := m2.Signer(c)
		if err != nil {
			t.Fatal(err)
		}
		newKID, err := m1.Rotate(c)
		if err != nil {
			t.Fatal(err)
		}
		if k, _ := m1.Signer(c); k.KID != newKID {
			t.Errorf("the rotating Manager signs with %s, want %s at once", k.KID, newKID)
		}
		clk.Advance(opts.RefreshInterval - time.Millisecond)
		if k, _ := m2.Signer(c); k.KID != k1.KID {
			t.Errorf("within the refresh interval: %s, want the cached %s", k.KID, k1.KID)
		}
		clk.Advance(time.Millisecond)
		if k, _ := m2.Signer(c); k.KID != newKID {
			t.Errorf("after the refresh interval: %s, want %s", k.KID, newKID)
		}
	}, keys.Migrations)
}

func TestRotateIfOlderOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c, clk := ctx(t), newClock()
		opts := keys.Options{Clock: clk.Now}
		if rotated, err := newManager(t, db, opts).RotateIfOlder(c, time.Hour); !rotated || err != nil {
			t.Fatalf("RotateIfOlder on an empty table = %v, %v; want a first key", rotated, err)
		}
		clk.Advance(59 * time.Minute)
		if rotated, _ := newManager(t, db, opts).RotateIfOlder(c, time.Hour); rotated {
			t.Fatal("rotated a key younger than maxAge")
		}
		clk.Advance(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		rotations := 0
		for range 6 {
			m := newManager(t, db, opts)
			wg.Go(func() {
				rotated, err := m.RotateIfOlder(c, time.Hour)
				if err != nil {
					t.Error(err)
				}
				if rotated {
					mu.Lock()
					rotations++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if rotations != 1 || countKeys(t, db, "1=1") != 2 || countKeys(t, db, "retired_at IS NULL") != 1 {
			t.Fatalf("%d rotations, %d keys: want 1 rotation, 2 keys, 1 active", rotations, countKeys(t, db, "1=1"))
		}
	}, keys.Migrations)
}

func TestRotateEvery(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		m := newManager(t, db, keys.Options{TokenTTL: time.Millisecond, RefreshInterval: time.Millisecond, Leeway: time.Millisecond})
		runCtx, stop := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		go func() { done <- m.RotateEvery(runCtx, 100*time.Millisecond) }()
		// Rotations happen and expired keys are pruned as it goes.
		seen := map[string]bool{}
		deadline := time.Now().Add(10 * time.Second)
		for len(seen) < 3 && time.Now().Before(deadline) {
			if k, err := m.Signer(runCtx); err == nil {
				seen[k.KID] = true
			}
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("RotateEvery = %v, want nil when its context ends", err)
		}
		if len(seen) < 3 {
			t.Fatalf("saw %d keys in 10s of rotating every 100ms", len(seen))
		}
		if n := countKeys(t, db, "1=1"); n > 3 {
			t.Errorf("%d keys stored: expired ones were not pruned", n)
		}
		if err := m.RotateEvery(context.Background(), 0); err == nil {
			t.Error("RotateEvery(0) accepted")
		}
	}, keys.Migrations)
}

func TestConcurrentRotateAndSign(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		c := ctx(t)
		m := newManager(t, db, keys.Options{RefreshInterval: time.Millisecond})
		if err := m.Ensure(c); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range 5 {
					if _, err := m.Rotate(c); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for range 4 {
			wg.Go(func() {
				for range 50 {
					tok, err := m.Sign(c, map[string]any{"sub": "x"})
					if err != nil || tok == "" {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n := countKeys(t, db, "1=1"); n != 11 {
			t.Errorf("%d keys after 10 rotations, want 11", n)
		}
		if n := countKeys(t, db, "retired_at IS NULL"); n != 1 {
			t.Errorf("%d active keys, want 1", n)
		}
		if _, err := m.Signer(c); errors.Is(err, keys.ErrNoActiveKey) {
			t.Error(err)
		}
	}, keys.Migrations)
}
