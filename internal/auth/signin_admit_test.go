package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAdmitSignIn: sign-ins beyond the slots wait, until a slot frees up
// or their context ends.
func TestAdmitSignIn(t *testing.T) {
	s := &Service{signIns: make(chan struct{}, 2)}
	ctx := context.Background()
	first, err := s.admitSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.admitSignIn(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.admitSignIn(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third sign-in with both slots taken: %v; want it to wait out its context", err)
	}
	admitted := make(chan error, 1)
	go func() { _, err := s.admitSignIn(ctx); admitted <- err }()
	select {
	case err := <-admitted:
		t.Fatalf("admitted while both slots are taken (%v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	first()
	if err := <-admitted; err != nil {
		t.Fatal(err)
	}
	// A sign-in whose context never ends gives up after signInWait.
	defer func(w time.Duration) { signInWait = w }(signInWait)
	signInWait = 20 * time.Millisecond
	if _, err := s.admitSignIn(ctx); !errors.Is(err, errSignInBusy) {
		t.Fatalf("sign-in with both slots taken for longer than signInWait: %v; want errSignInBusy", err)
	}
	if n := signInSlots(); n < 2 {
		t.Fatalf("signInSlots() = %d", n)
	}
}
