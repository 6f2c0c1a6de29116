package password_test

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/errs"
)

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy password.Policy
		pw     string
		field  string // expected field code, "" for valid
	}{
		{"ok", password.Policy{}, "12345678", ""},
		{"short", password.Policy{}, "1234567", "too_short"},
		{"empty", password.Policy{}, "", "too_short"},
		{"runes not bytes", password.Policy{}, "éééééé", "too_short"}, // 12 bytes, 6 runes
		{"after NFKC", password.Policy{}, "ﬃﬃﬃ", ""},                  // 3 runes, 9 after NFKC
		{"combining counted once", password.Policy{}, strings.Repeat("e\u0301", 7), "too_short"},
		{"max", password.Policy{}, strings.Repeat("a", 1024), ""},
		{"too long", password.Policy{}, strings.Repeat("a", 1025), "too_long"},
		{"invalid utf-8", password.Policy{}, "abcdefgh\xff", "invalid_utf8"},
		{"custom min", password.Policy{MinLength: 12}, "12345678901", "too_short"},
		{"custom max", password.Policy{MaxLength: 10}, "12345678901", "too_long"},
	} {
		err := tc.policy.Validate(tc.pw)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: Validate = %v, want nil", tc.name, err)
			}
			continue
		}
		e := errs.As(err)
		if e == nil || e.Kind != errs.Invalid || e.Code != password.CodeWeak ||
			len(e.Fields) != 1 || e.Fields[0].Field != "password" || e.Fields[0].Code != tc.field {
			t.Errorf("%s: Validate = %#v, want %s with field password/%s", tc.name, err, password.CodeWeak, tc.field)
		}
	}
	if err := password.Validate("short"); errs.CodeOf(err) != password.CodeWeak {
		t.Errorf("package Validate(short) = %v", err)
	}
}
