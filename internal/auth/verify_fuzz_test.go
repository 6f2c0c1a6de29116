package auth_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// FuzzCheckEmail: an accepted address is in its normal form — a fixed
// point of the check, lower-case, bounded, one local part and a dotted
// domain, no spaces — and a rejection is always auth.invalid_email.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", " Ann@Example.COM ", "ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ", "Eve <eve@example.com>",
		"a@b", "@example.com", "a@@example.com", "\"a b\"@example.com", "a@example.com\n", "İ@example.com",
		"a@example.com.", strings.Repeat("a", 250) + "@x.io", "a\u0301@example.com", "ß@straße.de", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := auth.CheckEmail(in)
		if err != nil {
			if errs.CodeOf(err) != "auth.invalid_email" || out != "" {
				t.Fatalf("CheckEmail(%q) = %q, %v", in, out, err)
			}
			return
		}
		again, err := auth.CheckEmail(out)
		if err != nil || again != out {
			t.Fatalf("not a fixed point: %q → %q → %q, %v", in, out, again, err)
		}
		at := strings.LastIndexByte(out, '@')
		switch {
		case len(out) > 254, at < 1, !strings.Contains(out[at+1:], "."):
			t.Fatalf("CheckEmail(%q) accepted %q", in, out)
		case strings.ToLower(out) != out, strings.IndexFunc(out, unicode.IsSpace) >= 0:
			t.Fatalf("CheckEmail(%q) = %q: not normalised", in, out)
		}
	})
}

// FuzzSignUpJSON posts arbitrary bodies to the sign-up endpoint: whatever
// arrives, the answer is a 2xx or a 4xx, never a 5xx or a panic.
func FuzzSignUpJSON(f *testing.F) {
	for _, s := range []string{
		`{"email":"ann@example.com","password":"correct horse battery staple"}`,
		`{"email":"ann@example.com","password":"correct horse battery staple","data":{"name":"Ann"}}`,
		`{"email":"ANN@example.com","password":"correct horse battery staple"}`,
		`{"email":"b@example.com","password":"short"}`,
		`{"email":"c@example.com","password":"correct horse battery staple","data":[1]}`,
		`{"email":"c@example.com","password":"correct horse battery staple","data":"x"}`,
		`{"email":"d@example.com","password":"correct horse battery staple","admin":true}`,
		`{"email":1,"password":null}`, `{"email":"\u0000@x.io","password":"\ud800\ud800\ud800\ud800\ud800"}`,
		`{}`, `null`, `[]`, `"x"`, ``, `{`, `{"email":"a@b.co"} {}`, `{"data":{"a":` + strings.Repeat("[", 5000) + `}}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/auth/signup", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("POST %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}

// fuzzHandler is the auth service on SQLite, with mails only logged: the
// parts of the harness a fuzz target (a testing.F, not a testing.T) can
// build.
func fuzzHandler(f *testing.F) http.Handler {
	ctx := context.Background()
	db := storetest.Open(f, store.SQLite, auth.Migrations...)
	b := bustest.Open(f, bustest.Embedded)
	if err := b.EnsureStream(ctx, "auth"); err != nil {
		f.Fatal(err)
	}
	log := bustest.Logger()
	km, err := keys.New(db, keys.Options{Secret: []byte(testSecret), TokenTTL: 15 * time.Minute})
	if err != nil {
		f.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Options{})
	if err != nil {
		f.Fatal(err)
	}
	sender, err := mail.Open("log:", "bam <no-reply@example.com>", log)
	if err != nil {
		f.Fatal(err)
	}
	th, err := throttle.New(db, throttle.Policy{})
	if err != nil {
		f.Fatal(err)
	}
	svc, err := auth.New(ctx, auth.Deps{DB: db, Outbox: outbox.New(db, b, outbox.Options{Logger: log}), Keys: km,
		Hasher: hasher, Mail: sender, Throttle: th, Log: log},
		auth.Options{Issuer: "http://bam.test", Audience: "bam", SiteURL: "http://bam.test", AccessTokenTTL: 15 * time.Minute,
			SessionTTL: time.Hour, RefreshReuseGrace: 10 * time.Second, Secret: []byte(testSecret)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = svc.Drain(ctx) })
	return svc.Handler()
}
