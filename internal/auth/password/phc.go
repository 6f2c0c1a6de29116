package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by Verify's error for a stored hash that is not
// an argon2id PHC string this package can check: corrupted, from another
// algorithm, or with parameters outside the accepted bounds. It means bad
// data, not a wrong password.
var ErrMalformedHash = errors.New("password: malformed hash")

// b64 is the PHC string format's base64: standard alphabet, no padding, and
// (Strict) no stray bits, so each hash has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// encode returns the PHC string of an argon2id hash.
func (h phc) encode() string {
	p := h.params
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// limits bound the cost a stored hash may demand from Verify.
type limits struct{ memory, time, threads uint32 }

// parsePHC decodes s strictly: "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH", the
// parameters in that order and nothing else. Errors wrap ErrMalformedHash and
// never quote s (it is a credential).
func parsePHC(s string, lim limits) (phc, error) {
	fail := func(what string) (phc, error) { return phc{}, fmt.Errorf("%w: %s", ErrMalformedHash, what) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("not a PHC string with 5 fields")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported argon2 version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return fail("want parameters m, t and p")
	}
	var nums [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		// Leading zeros would give one hash several spellings.
		if !ok || (len(v) > 1 && v[0] == '0') {
			return fail("bad parameter " + strconv.Quote(name[:1]))
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fail("bad parameter " + strconv.Quote(name[:1]))
		}
		nums[i] = n
	}
	m, t, p := uint32(nums[0]), uint32(nums[1]), uint32(nums[2])
	switch {
	case t < 1 || p < 1 || p > 255 || m < 8*p:
		return fail("parameters below argon2's minimum")
	case m > lim.memory || t > lim.time || p > lim.threads:
		return fail("parameters above the accepted maximum")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return fail("bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return fail("bad hash")
	}
	return phc{
		params: Params{Memory: m, Time: t, Threads: uint8(p), KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))},
		salt:   salt,
		key:    key,
	}, nil
}
