// Package password hashes, verifies and vets user passwords for the auth
// service.
//
// Hashes are argon2id (RFC 9106) in the PHC string format,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64, so every stored hash says
// how it was made: parameters can be raised later, and Verify reports which
// hashes need redoing (the caller rehashes on the next successful sign-in).
// The defaults are OWASP's recommended minimum for argon2id and also the floor
// that NewHasher enforces: 19 MiB, 2 passes, 1 lane.
//
// Every function here first normalises the password to Unicode NFKC, so the
// same password typed on another keyboard or OS (a precomposed "é" or "e" plus
// a combining accent, the "ﬁ" ligature or "fi") hashes the same.
//
// argon2id is memory-hard by design: each hash takes Params.Memory of RAM for
// a few tens of milliseconds. A Hasher therefore runs at most a bounded number
// of hashes at once (GOMAXPROCS by default); others wait their turn or give up
// when their context ends, so a burst of sign-ins queues instead of exhausting
// memory.
//
// Policy.Validate is for new passwords (sign-up, change, reset): length limits
// and, optionally, a local list of breached passwords (Breached).
package password

import (
	"fmt"

	"golang.org/x/text/unicode/norm"
)

// Params are the argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes). It changes the hash,
	// so it is a parameter, not a tuning knob.
	Threads uint8
	// KeyLen is the length of the derived hash in bytes.
	KeyLen uint32
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
}

// DefaultParams are OWASP's minimum for argon2id (m=19 MiB, t=2, p=1), with a
// 32-byte hash and a 16-byte salt. They are also the floor: NewHasher rejects
// anything weaker.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// Bounds on parameters. The lower ones are the floor for new hashes; the
// upper ones cap what a stored hash may ask Verify to spend, so a corrupted
// or planted hash cannot make one sign-in allocate gigabytes.
const (
	minKeyLen  = 16
	maxKeyLen  = 64
	minSaltLen = 8
	maxSaltLen = 64

	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	maxThreads = 64
)

// Validate reports whether p is at least as strong as DefaultParams and
// within the bounds Verify accepts.
func (p Params) Validate() error {
	f := DefaultParams
	switch {
	case p.Memory < f.Memory || p.Time < f.Time || p.Threads < f.Threads:
		return fmt.Errorf("password: params m=%d,t=%d,p=%d are below the floor m=%d,t=%d,p=%d",
			p.Memory, p.Time, p.Threads, f.Memory, f.Time, f.Threads)
	case p.Memory > maxMemory || p.Time > maxTime || p.Threads > maxThreads:
		return fmt.Errorf("password: params m=%d,t=%d,p=%d exceed the maximum m=%d,t=%d,p=%d",
			p.Memory, p.Time, p.Threads, maxMemory, maxTime, maxThreads)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: key length %d is outside %d..%d bytes", p.KeyLen, minKeyLen, maxKeyLen)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("password: salt length %d is outside %d..%d bytes", p.SaltLen, minSaltLen, maxSaltLen)
	}
	return nil
}

// Normalize returns pw in Unicode NFKC, the form every function of this
// package hashes and measures.
func Normalize(pw string) string { return norm.NFKC.String(pw) }
