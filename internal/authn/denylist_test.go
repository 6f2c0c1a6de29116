package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

func TestDenyListSessions(t *testing.T) {
	c := newClock()
	d := authn.NewDenyList(authn.DenyListOptions{TokenLifetime: 15 * time.Minute, Clock: c.Now})
	a := &authn.Principal{Subject: "usr_1", SessionID: "ses_a", IssuedAt: c.Now()}
	b := &authn.Principal{Subject: "usr_1", SessionID: "ses_b", IssuedAt: c.Now()}
	d.RevokeSession("ses_a", c.Now())
	if !d.Revoked(a) || d.Revoked(b) {
		t.Fatalf("Revoked(a, b) = %v, %v; want true, false", d.Revoked(a), d.Revoked(b))
	}
	// A verifier accepts a token until exp + leeway: the entry must last that long.
	c.Advance(15*time.Minute + authn.DefaultLeeway - time.Second)
	if !d.Revoked(a) {
		t.Fatal("entry expired inside the verifiers' leeway")
	}
	c.Advance(time.Second) // every token of ses_a has expired, leeway included: the entry goes
	if d.Revoked(a) || d.Len() != 0 {
		t.Fatalf("entry outlived the token lifetime: revoked=%v len=%d", d.Revoked(a), d.Len())
	}
}

func TestDenyListSubjects(t *testing.T) {
	c := newClock()
	d := authn.NewDenyList(authn.DenyListOptions{TokenLifetime: 15 * time.Minute, Clock: c.Now})
	before := &authn.Principal{Subject: "usr_1", SessionID: "s1", IssuedAt: c.Now().Add(-time.Minute)}
	same := &authn.Principal{Subject: "usr_1", SessionID: "s2", IssuedAt: c.Now()}
	after := &authn.Principal{Subject: "usr_1", SessionID: "s3", IssuedAt: c.Now().Add(time.Second)}
	other := &authn.Principal{Subject: "usr_2", SessionID: "s4", IssuedAt: c.Now().Add(-time.Minute)}
	d.RevokeSubject("usr_1", c.Now())
	for _, tt := range []struct {
		p    *authn.Principal
		want bool
	}{{before, true}, {same, true}, {after, false}, {other, false}} {
		if got := d.Revoked(tt.p); got != tt.want {
			t.Errorf("Revoked(%s issued %s) = %v, want %v", tt.p.Subject, tt.p.IssuedAt, got, tt.want)
		}
	}
	// An older event arriving late does not move the cut-off back.
	d.RevokeSubject("usr_1", c.Now().Add(-time.Hour))
	if !d.Revoked(before) {
		t.Error("late older event undid a revocation")
	}
	c.Advance(15*time.Minute + authn.DefaultLeeway)
	if d.Revoked(before) || d.Len() != 0 {
		t.Errorf("subject entry outlived the token lifetime")
	}
}

// TestDenyListSubjectSameSecond: iat has whole seconds; a token whose jti
// (a UUIDv7) says it was issued after the revocation (and its margin), in
// the same second, is not revoked, and one issued before it in that second
// is.
func TestDenyListSubjectSameSecond(t *testing.T) {
	c := newClock()
	d := authn.NewDenyList(authn.DenyListOptions{TokenLifetime: 15 * time.Minute, Clock: c.Now})
	second := c.Now().Truncate(time.Second)
	revokedAt := second.Add(300 * time.Millisecond)
	tokenAt := func(at time.Time) *authn.Principal {
		id := v7At(t, at)
		return &authn.Principal{Subject: "usr_1", TokenID: id.String(), IssuedAt: second}
	}
	d.RevokeSubject("usr_1", revokedAt)
	if !d.Revoked(tokenAt(second.Add(100 * time.Millisecond))) {
		t.Error("a token issued 200 ms before the revocation is not revoked")
	}
	if !d.Revoked(tokenAt(second.Add(400 * time.Millisecond))) {
		t.Error("a token issued 100 ms after the revocation's time (a refresh racing its transaction) is not revoked")
	}
	if d.Revoked(tokenAt(second.Add(800 * time.Millisecond))) {
		t.Error("a token issued 500 ms after the revocation is revoked")
	}
	if !d.Revoked(&authn.Principal{Subject: "usr_1", TokenID: "not-a-uuid", IssuedAt: second}) {
		t.Error("without a UUIDv7 jti, iat's second must count as before the revocation")
	}
}

// v7At returns a UUIDv7 whose timestamp is at (milliseconds).
func v7At(t *testing.T, at time.Time) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	ms := uint64(at.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	id[6] = 0x70 // version 7
	id[8] = 0x80 // RFC 9562 variant
	return id
}

func TestDenyListBounded(t *testing.T) {
	c := newClock()
	d := authn.NewDenyList(authn.DenyListOptions{TokenLifetime: time.Minute, Clock: c.Now})
	for i := range 1000 {
		d.RevokeSession(string(rune('a'+i%26))+string(rune(i)), c.Now())
		c.Advance(time.Second)
	}
	// Only the last minute (plus the leeway) can be live.
	if n, max := d.Len(), 60+int(authn.DefaultLeeway/time.Second); n > max {
		t.Errorf("Len = %d, want <= %d", n, max)
	}
}

func TestVerifyRevoked(t *testing.T) {
	c := newClock()
	ed := newEd25519(t, "ed-1")
	deny := authn.NewDenyList(authn.DenyListOptions{Clock: c.Now})
	v := newVerifier(t, newJWKSServer(t, ed), c, deny)
	ctx := context.Background()
	tok := sign(t, ed, userClaims(c.Now()))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	deny.RevokeSession("ses_1", c.Now())
	_, err := v.Verify(ctx, tok) // cached, still checked
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenRevoked)

	// Sign-out everywhere: old tokens of the subject fail, a new sign-in works.
	c.Advance(time.Second)
	old := sign(t, ed, with(userClaims(c.Now()), "sid", "ses_2"))
	deny.RevokeSubject("usr_1", c.Now())
	_, err = v.Verify(ctx, old) // uncached
	wantCode(t, err, errs.Unauthenticated, authn.CodeTokenRevoked)
	c.Advance(time.Second)
	if _, err := v.Verify(ctx, sign(t, ed, with(userClaims(c.Now()), "sid", "ses_3"))); err != nil {
		t.Fatalf("token issued after the revocation: %v", err)
	}
}
