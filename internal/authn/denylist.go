package authn

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// DefaultTokenLifetime is the access-token lifetime a DenyList assumes when
// none is given: entries older than this cannot match a live token.
const DefaultTokenLifetime = 15 * time.Minute

// DenyList holds recent revocations: sessions (sid) and subjects (sub, with
// the time of revocation: every token of sub issued at or before it is
// revoked). An entry lives for the maximum access-token lifetime after its
// revocation, when every token it could match has expired anyway, so the
// list stays bounded. It is safe for concurrent use; Follow keeps it
// current from the auth service's events.
//
// Every request reads it and revocations are rare, so reads take no lock.
type DenyList struct {
	ttl time.Duration
	now func() time.Time

	sessions sync.Map // sid → until (time.Time)
	subjects sync.Map // sub → subjectRevocation
	size     atomic.Int64

	mu        sync.Mutex // serializes writers
	nextSweep time.Time
}

type subjectRevocation struct {
	at, until time.Time
}

// DenyListOptions configures NewDenyList.
type DenyListOptions struct {
	// TokenLifetime is the longest access-token lifetime the issuer uses;
	// 0 means DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Clock replaces time.Now, for tests.
	Clock func() time.Time
}

// NewDenyList returns an empty deny-list.
func NewDenyList(opts DenyListOptions) *DenyList {
	d := &DenyList{ttl: opts.TokenLifetime, now: opts.Clock}
	if d.ttl <= 0 {
		d.ttl = DefaultTokenLifetime
	}
	// A verifier accepts a token until exp plus its leeway: an entry must
	// outlive that too, or a revoked token would work again briefly.
	d.ttl += DefaultLeeway
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// TokenLifetime is how long entries live (the token lifetime plus the
// verifiers' leeway): also the lookback Follow needs.
func (d *DenyList) TokenLifetime() time.Duration { return d.ttl }

// RevokeSession revokes every token of session sid, as of at.
func (d *DenyList) RevokeSession(sid string, at time.Time) {
	if sid == "" {
		return
	}
	until := at.Add(d.ttl)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked()
	old, ok := d.sessions.Load(sid)
	if !ok {
		d.size.Add(1)
	}
	if !ok || until.After(old.(time.Time)) {
		d.sessions.Store(sid, until)
	}
	revocationsTotal.WithLabelValues("session").Inc()
}

// RevokeSubject revokes every token of sub issued at or before at.
func (d *DenyList) RevokeSubject(sub string, at time.Time) {
	if sub == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked()
	old, ok := d.subjects.Load(sub)
	if !ok {
		d.size.Add(1)
	}
	// Keep the latest revocation: it covers everything the earlier one did.
	if !ok || at.After(old.(subjectRevocation).at) {
		d.subjects.Store(sub, subjectRevocation{at: at, until: at.Add(d.ttl)})
	}
	revocationsTotal.WithLabelValues("subject").Inc()
}

// Revoked reports whether p's token is revoked: its session is, or its
// subject was revoked at or after the token was issued.
func (d *DenyList) Revoked(p *Principal) bool {
	if d == nil || p == nil || d.size.Load() == 0 {
		return false
	}
	if p.SessionID != "" {
		if until, ok := d.sessions.Load(p.SessionID); ok && d.now().Before(until.(time.Time)) {
			return true
		}
	}
	if r, ok := d.subjects.Load(p.Subject); ok {
		r := r.(subjectRevocation)
		return d.now().Before(r.until) && !IssuedAt(p).After(r.at.Add(revocationMargin))
	}
	return false
}

// revocationMargin extends a subject's revocation a little past its time:
// that time is taken when the revoking transaction starts, and a token
// minted by a refresh serialized just before its commit, or on a replica
// whose clock runs a little ahead, is issued after it.
const revocationMargin = 250 * time.Millisecond

// IssuedAt is when p's token was issued, to the millisecond when its jti
// is a UUIDv7 made in its iat's second (bam's are): iat alone has whole
// seconds, so a token issued just after a revocation, in the same second,
// would be taken for one issued before it.
func IssuedAt(p *Principal) time.Time {
	if id, err := uuid.Parse(p.TokenID); err == nil && id.Version() == 7 {
		sec, nsec := id.Time().UnixTime()
		if t := time.Unix(sec, nsec); t.Truncate(time.Second).Equal(p.IssuedAt.Truncate(time.Second)) {
			return t
		}
	}
	return p.IssuedAt
}

// Len returns the number of live entries (sessions plus subjects).
func (d *DenyList) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextSweep = time.Time{}
	d.sweepLocked()
	return int(d.size.Load())
}

// sweepLocked drops expired entries, at most once a minute: revocations are
// rare, so a full scan now and then keeps the list bounded cheaply.
func (d *DenyList) sweepLocked() {
	now := d.now()
	if now.Before(d.nextSweep) {
		return
	}
	d.nextSweep = now.Add(min(time.Minute, d.ttl))
	d.sessions.Range(func(sid, until any) bool {
		if !now.Before(until.(time.Time)) {
			d.sessions.Delete(sid)
			d.size.Add(-1)
		}
		return true
	})
	d.subjects.Range(func(sub, r any) bool {
		if !now.Before(r.(subjectRevocation).until) {
			d.subjects.Delete(sub)
			d.size.Add(-1)
		}
		return true
	})
}
