package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/auth/keys"
	"github.com/bamhq/bam/internal/auth/mail"
	"github.com/bamhq/bam/internal/auth/password"
	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/fastlane"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// Benchmarks of the auth service through its own HTTP listener, on every
// dialect, as the issue sets them (ratios, never asserted times):
//
//	go test ./internal/auth -run '^$' -bench 'SignIn|Refresh' -benchtime 3s
//
// SignIn/*/interleaved gives the sign-in to argon2id ratio that holds on a
// busy machine. Refreshes share commits (refresh_batch.go): one at a time,
// a refresh is bounded by the disk's flush rate (synchronous=FULL on
// SQLite, synchronous_commit on PostgreSQL: one flush per commit); with
// many clients, by CPU. cpu-us/op is this process's CPU time (client and
// server, and SQLite) per operation: it moves much less than the rates on
// a shared machine.
//
// Token verification is benchmarked in internal/authn (BenchmarkVerify).

// benchParallelism is goroutines per GOMAXPROCS: enough clients that the
// server, not the clients' round trips, is what is measured.
const benchParallelism = 8

// benchEnv is an auth service on one dialect behind a real listener,
// production-shaped: embedded NATS and the outbox relay running, mails to
// files, the real clock.
type benchEnv struct {
	svc    *auth.Service
	hasher *password.Hasher
	url    string
	client *http.Client
}

func newBenchEnv(b *testing.B, d store.Dialect) *benchEnv {
	b.Helper()
	ctx := context.Background()
	log := bustest.Logger()
	db := storetest.Open(b, d, auth.Migrations...)
	bus := bustest.Open(b, bustest.Embedded)
	if err := bus.EnsureStream(ctx, "auth"); err != nil {
		b.Fatal(err)
	}
	km, err := keys.New(db, keys.Options{Secret: []byte(testSecret), TokenTTL: 15 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Options{})
	if err != nil {
		b.Fatal(err)
	}
	sender, err := mail.Open(mail.DefaultURL(b.TempDir()), "bam <no-reply@example.com>", log)
	if err != nil {
		b.Fatal(err)
	}
	th, err := throttle.New(db, throttle.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	ob := outbox.New(db, bus, outbox.Options{Logger: log})
	addr := testenv.FreeAddr(b)
	base := "http://" + addr
	svc, err := auth.New(ctx, auth.Deps{DB: db, Outbox: ob, Keys: km, Hasher: hasher, Mail: sender,
		Throttle: th, Log: log}, auth.Options{Issuer: base, Audience: "bam", SiteURL: base,
		AccessTokenTTL: 15 * time.Minute, SessionTTL: 24 * time.Hour, RefreshReuseGrace: 10 * time.Second,
		Secret: []byte(testSecret)})
	if err != nil {
		b.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ob.Stop(context.Background()) })
	// The listener a service serves on its own (internal/platform): the
	// fast lane.
	srv := &fastlane.Server{Name: "auth", Addr: addr, Handler: svc.Handler(), Log: log}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop(context.Background()) })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256 // one kept-alive connection per client goroutine
	b.Cleanup(tr.CloseIdleConnections)
	return &benchEnv{svc: svc, hasher: hasher, url: base, client: &http.Client{Transport: tr}}
}

// token posts a grant to the token endpoint and returns the response.
func (e *benchEnv) token(form url.Values) (auth.TokenResponse, error) {
	resp, err := e.client.PostForm(e.url+"/v1/auth/token", form)
	if err != nil {
		return auth.TokenResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return auth.TokenResponse{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return auth.TokenResponse{}, fmt.Errorf("token: %d %s", resp.StatusCode, raw)
	}
	var tr auth.TokenResponse
	return tr, json.Unmarshal(raw, &tr)
}

func (e *benchEnv) signUp(b *testing.B, email, pw string) {
	b.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw))
	resp, err := e.client.Post(e.url+"/v1/auth/signup", "application/json", body)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("signup: %d %s", resp.StatusCode, raw)
	}
}

const benchPassword = "correct horse battery staple"

// BenchmarkSignIn compares the password grant through the listener, from
// parallel clients, with the bare argon2id rate at the same parameters
// through the same Hasher: everything but hashing should cost next to
// nothing (target: sign-ins/s ≥ 0.9 × hashes/s).
func BenchmarkSignIn(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			e := newBenchEnv(b, d)
			const users = 16
			for i := range users {
				e.signUp(b, fmt.Sprintf("bench%d@example.com", i), benchPassword)
			}
			ctx := context.Background()
			b.Run("argon2id-raw", func(b *testing.B) {
				b.SetParallelism(benchParallelism)
				cpu0 := cpuTime()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.hasher.Hash(ctx, benchPassword); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			})
			b.Run("password-grant", func(b *testing.B) {
				b.SetParallelism(benchParallelism)
				var next atomic.Int64 // spreads sign-ins over the users
				cpu0 := cpuTime()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						email := fmt.Sprintf("bench%d@example.com", next.Add(1)%users)
						if _, err := e.token(url.Values{"grant_type": {"password"}, "username": {email},
							"password": {benchPassword}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
			})
			// The two above run one after the other, so a neighbour's load
			// on a shared machine skews their ratio; here batches of each
			// alternate, and the ratio is of the summed times.
			b.Run("interleaved", func(b *testing.B) {
				const batch = 16
				var hashing, signing time.Duration
				n := 0
				for n < b.N {
					t0 := time.Now()
					if err := inParallel(batch, func(int) error { _, err := e.hasher.Hash(ctx, benchPassword); return err }); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					err := inParallel(batch, func(i int) error {
						_, err := e.token(url.Values{"grant_type": {"password"},
							"username": {fmt.Sprintf("bench%d@example.com", i%users)}, "password": {benchPassword}})
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					hashing += t1.Sub(t0)
					signing += time.Since(t1)
					n += batch
				}
				hashRate, signRate := float64(n)/hashing.Seconds(), float64(n)/signing.Seconds()
				b.ReportMetric(hashRate, "hashes/s")
				b.ReportMetric(signRate, "signins/s")
				b.ReportMetric(signRate/hashRate, "signin/hash")
			})
		})
	}
}

// inParallel runs fn(0..n-1) at once and returns the first error.
func inParallel(n int, fn func(i int) error) error {
	errc := make(chan error, n)
	for i := range n {
		go func() { errc <- fn(i) }()
	}
	var first error
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// BenchmarkRefresh measures the refresh_token grant through the listener
// from parallel clients, each rotating its own session's token (target:
// ≥ 3,000/s on a 2-core machine), with 1 and benchParallelism clients per
// core: the second is where write contention shows.
func BenchmarkRefresh(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			e := newBenchEnv(b, d)
			e.signUp(b, "refresh@example.com", benchPassword)
			// One session per client, signed in once: b.RunParallel may
			// start more goroutines on a later round, so a pool hands them
			// out and takes back each chain's latest token.
			pool := make(chan string, benchParallelism*procs)
			for range cap(pool) {
				tr, err := e.token(url.Values{"grant_type": {"password"}, "username": {"refresh@example.com"},
					"password": {benchPassword}})
				if err != nil {
					b.Fatal(err)
				}
				pool <- tr.RefreshToken
			}
			for _, perProc := range []int{1, benchParallelism} {
				b.Run(fmt.Sprintf("clients=%d", perProc*procs), func(b *testing.B) {
					b.SetParallelism(perProc)
					cpu0 := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						tok := <-pool
						defer func() { pool <- tok }()
						for pb.Next() {
							tr, err := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
							if err != nil {
								b.Error(err)
								return
							}
							tok = tr.RefreshToken
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
				})
			}
		})
	}
}
