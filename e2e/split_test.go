package e2e_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bamhq/bam/internal/testenv"
)

// TestSplit runs bam as a split deployment of real processes: two auth
// replicas on their own listeners and a gateway that reaches them over
// HTTP, sharing PostgreSQL (a database of the test's own) and external
// NATS. Under steady reads one auth replica is killed with SIGKILL: no
// request fails. After a sign-out through the surviving replica the token
// is refused through the gateway.
func TestSplit(t *testing.T) {
	pgURL, natsURL := testenv.PostgresURL(t), testenv.NATSURL(t)
	dbURL := freshDatabase(t, pgURL)
	t.Cleanup(func() { deleteStream(natsURL, "BAM_AUTH") })

	addr1, addr2 := pair(testenv.FreeAddrs(t, 2))
	shared := []string{"BAM_DATABASE_URL=" + dbURL, "BAM_NATS_URL=" + natsURL,
		"BAM_AUTH_SECRET=split-test-secret-0123456789abcdef0123", "BAM_GATEWAY_RATE_LIMIT_RPS=0"}
	auth1 := start(t, append(shared, "BAM_AUTH_ADDR="+addr1), "--services=auth")
	auth2 := start(t, append(shared, "BAM_AUTH_ADDR="+addr2), "--services=auth")
	auth1.waitLog("bam is ready", nil, 20*time.Second)
	auth2.waitLog("bam is ready", nil, 20*time.Second)
	gw := start(t, append(shared, "BAM_AUTH_URL=http://"+addr1+",http://"+addr2), "--services=gateway")
	base := gw.gatewayURL()

	const email, pw = "split@example.com", "correct horse battery staple"
	call(t, "POST", base+"/v1/auth/signup", map[string]any{"email": email, "password": pw}, "").expect(t, 201)
	tok := signIn(t, base, email, pw)
	access := tok.str("access_token")

	// Steady reads through the gateway while one replica dies.
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := get2(base+"/v1/auth/user", access); r == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					t.Logf("GET /v1/auth/user = %d", r)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if err := auth1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("reads during the kill: %d ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 10 {
		t.Fatalf("%d reads failed (%d ok) while a replica was killed", failed.Load(), ok.Load())
	}

	// Sign out (handled by the surviving replica); the token is refused
	// through the gateway from then on.
	call(t, "POST", base+"/v1/auth/logout", nil, access).expect(t, 204)
	deadline := time.Now().Add(3 * time.Second)
	for get2(base+"/v1/auth/user", access) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a signed-out token still works through the gateway after 3 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := gw.stop(30 * time.Second); err != nil {
		t.Errorf("gateway exit: %v", err)
	}
	if err := auth2.stop(30 * time.Second); err != nil {
		t.Errorf("auth exit: %v", err)
	}
}

// get2 is a GET with a bearer token that returns only the status (0 on a
// transport error).
func get2(u, token string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freshDatabase creates a database of the test's own on the server at
// pgURL and drops it when the test ends.
func freshDatabase(t *testing.T, pgURL string) string {
	t.Helper()
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	name := "bam_e2e_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func deleteStream(natsURL, stream string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return
	}
	defer nc.Close()
	if js, err := jetstream.New(nc); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	}
}

func pair(a []string) (string, string) { return a[0], a[1] }
