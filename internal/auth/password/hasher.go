package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Options configure a Hasher.
type Options struct {
	// Params for new hashes; zero means DefaultParams. Must pass
	// Params.Validate.
	Params Params
	// MaxConcurrent bounds how many hashes (Hash, Verify, DummyVerify) run at
	// once; the rest wait. Zero means GOMAXPROCS at NewHasher: argon2id is
	// CPU-bound, so more would only add memory (Params.Memory each), not
	// throughput.
	MaxConcurrent int
}

// Hasher hashes and verifies passwords with one set of parameters. It is
// safe for concurrent use.
type Hasher struct {
	params Params
	limits limits
	sem    chan struct{}
	dummy  phc // what DummyVerify checks against: current params, random salt
}

// NewHasher returns a Hasher for opts.
func NewHasher(opts Options) (*Hasher, error) {
	p := opts.Params
	if p == (Params{}) {
		p = DefaultParams
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n := opts.MaxConcurrent
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{
		params: p,
		// Stored hashes may be older and weaker (Verify flags them for
		// rehash) or somewhat stronger (params lowered since), but not
		// arbitrarily costly.
		limits: limits{
			memory:  min(max(4*p.Memory, 64*1024), maxMemory),
			time:    min(max(4*p.Time, 8), maxTime),
			threads: min(max(4*uint32(p.Threads), 8), maxThreads),
		},
		sem:   make(chan struct{}, n),
		dummy: phc{params: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)},
	}
	rand.Read(h.dummy.salt)
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of pw (normalised to NFKC) under a fresh random
// salt. It waits for a free slot first and returns ctx's error if ctx ends
// before one frees up. Hash does not apply a Policy: validate new passwords
// first.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	e := phc{params: h.params, salt: make([]byte, h.params.SaltLen)}
	rand.Read(e.salt) // never fails (crypto/rand panics instead)
	key, err := h.derive(ctx, pw, e.params, e.salt)
	if err != nil {
		return "", err
	}
	e.key = key
	return e.encode(), nil
}

// Verify reports whether pw matches encoded, a PHC string made by Hash, in
// time that does not depend on where they differ. needsRehash is true when pw
// matched but encoded was made with other parameters than the Hasher's: the
// caller should then store a fresh Hash(pw) while it has the plain password.
// A malformed encoded gives an error wrapping ErrMalformedHash (bad data, not
// a wrong password); an ended ctx gives ctx's error.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error) {
	e, err := parsePHC(encoded, h.limits)
	if err != nil {
		return false, false, err
	}
	key, err := h.derive(ctx, pw, e.params, e.salt)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, e.key) != 1 {
		return false, false, nil
	}
	return true, e.params != h.params, nil
}

// DummyVerify does the work of a Verify against a hash with the current
// parameters and always fails. Call it when the account being signed in to
// does not exist (or has no password), so that the response takes as long as
// for a wrong password and its timing does not tell which accounts exist. It
// returns only ctx's error.
func (h *Hasher) DummyVerify(ctx context.Context, pw string) error {
	key, err := h.derive(ctx, pw, h.dummy.params, h.dummy.salt)
	if err != nil {
		return err
	}
	subtle.ConstantTimeCompare(key, h.dummy.key)
	return nil
}

// derive runs argon2id on the normalised pw once a slot is free.
func (h *Hasher) derive(ctx context.Context, pw string, p Params, salt []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}
