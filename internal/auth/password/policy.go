package password

import (
	"fmt"
	"unicode/utf8"

	"github.com/bamhq/bam/internal/errs"
)

// Error codes of Policy.Validate, on an *errs.Error of Kind errs.Invalid with
// a field error on "password".
const (
	CodeWeak     = "auth.weak_password"
	CodeBreached = "auth.breached_password"
)

// Default length limits, in runes after NFKC normalisation. The maximum only
// keeps inputs sane; argon2id's cost does not grow with length.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 1024
)

// Policy decides whether a new password is acceptable. The zero Policy
// applies the default length limits and no breach check.
type Policy struct {
	// MinLength and MaxLength bound the length in runes after
	// normalisation; zero means DefaultMinLength and DefaultMaxLength.
	MinLength, MaxLength int
	// Breached, when set, rejects passwords found in it.
	Breached *Breached
}

// Validate checks pw with the default Policy.
func Validate(pw string) error { return Policy{}.Validate(pw) }

// Validate returns nil if pw is acceptable as a new password, or an
// *errs.Error of Kind Invalid: code CodeWeak (field codes "invalid_utf8",
// "too_short", "too_long") or CodeBreached (field code "breached"). A failure
// to read the breach list is returned as an Internal error: better to fail a
// sign-up than to skip the check silently.
func (p Policy) Validate(pw string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	if !utf8.ValidString(pw) {
		return weak("invalid_utf8", "must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(Normalize(pw))
	switch {
	case n < minLen:
		return weak("too_short", fmt.Sprintf("must be at least %d characters", minLen))
	case n > maxLen:
		return weak("too_long", fmt.Sprintf("must be at most %d characters", maxLen))
	}
	if p.Breached != nil {
		count, err := p.Breached.Count(pw)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "auth.breach_check_failed", "could not check the password")
		}
		if count > 0 {
			return errs.E(errs.Invalid, CodeBreached, "this password has appeared in a data breach; choose another").
				WithField("password", "breached", "appears in a list of breached passwords")
		}
	}
	return nil
}

func weak(code, msg string) error {
	return errs.E(errs.Invalid, CodeWeak, "password is too weak: %s", msg).WithField("password", code, msg)
}
