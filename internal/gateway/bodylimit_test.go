package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// pattern is an endless deterministic byte stream: bodies of any size
// without holding them in memory.
type pattern struct{ n int }

var patternBlock = func() []byte {
	b := make([]byte, 65521) // prime: the stream does not repeat at power-of-two offsets
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	n := copy(b, patternBlock[p.n:])
	p.n = (p.n + n) % len(patternBlock)
	return n, nil
}

func patternHash(size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(&pattern{}, size))
	return hex.EncodeToString(h.Sum(nil))
}

// onlyReader hides the length of a body, so it is sent chunked.
type onlyReader struct{ io.Reader }

func TestBodyLimits(t *testing.T) {
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"n": n, "sha256": hex.EncodeToString(h.Sum(nil))})
	}))
	t.Cleanup(up.Close)
	srv, _ := front(t, fmt.Sprintf(`gateway:
  max_body: 24MiB
  routes:
    - {path: /small/, upstream: %[1]s, auth: none, max_body: 1KiB}
    - {path: /big/, upstream: %[1]s, auth: none}
`, up.URL))

	post := func(path string, body io.Reader, length int64) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, body)
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	wantTooLarge := func(resp *http.Response) {
		t.Helper()
		var p struct {
			Status int
			Code   string
		}
		_ = json.NewDecoder(resp.Body).Decode(&p)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || p.Code != "request.too_large" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("got %d %s %+v; want 413 problem+json request.too_large", resp.StatusCode, resp.Header.Get("Content-Type"), p)
		}
	}

	t.Run("Content-Length above the limit: refused before proxying", func(t *testing.T) {
		before := reached.Load()
		wantTooLarge(post("/small/x", io.LimitReader(&pattern{}, 1<<20), 1<<20))
		if reached.Load() != before {
			t.Error("the upstream was called")
		}
	})
	t.Run("streamed body crossing the limit: 413", func(t *testing.T) {
		wantTooLarge(post("/small/x", onlyReader{io.LimitReader(&pattern{}, 1<<20)}, -1))
	})
	t.Run("under the limit: passes", func(t *testing.T) {
		resp := post("/small/x", strings.NewReader(strings.Repeat("a", 1000)), 1000)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("16 MiB streamed under the global 24 MiB: reaches the upstream intact", func(t *testing.T) {
		const size = 16 << 20
		for _, length := range []int64{size, -1} { // with Content-Length, then chunked
			resp := post("/big/x", onlyReader{io.LimitReader(&pattern{}, size)}, length)
			var got struct {
				N      int64
				SHA256 string
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			if got.N != size || got.SHA256 != patternHash(size) {
				t.Fatalf("upstream got %d bytes, sha256 %s; want %d, %s", got.N, got.SHA256, size, patternHash(size))
			}
		}
	})
	t.Run("over the global limit: 413", func(t *testing.T) {
		wantTooLarge(post("/big/x", onlyReader{io.LimitReader(&pattern{}, 25<<20)}, -1))
	})
}

func TestBodyLimitConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"gateway:\n  max_body: lots\n",
		"gateway:\n  routes:\n    - {path: /a/, upstream: http://127.0.0.1:1, max_body: -5}\n",
		"gateway:\n  tls_cert: /x.pem\n",
		"gateway:\n  upstream_key: /k.pem\n",
	} {
		if _, err := loadConfig(t, yaml); err == nil {
			t.Errorf("accepted:\n%s", yaml)
		}
	}
}
