package httpx_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/transport"
)

// TestSlowBodyIsCutOff: a client that sends a JSON or form body slowly
// (here: 4 of the 100 bytes it announced, then nothing) gets an answer and
// loses the connection within BodyReadTimeout, instead of holding it for
// as long as it likes; a handler that answered keeps writing past it.
func TestSlowBodyIsCutOff(t *testing.T) {
	old := httpx.BodyReadTimeout
	httpx.BodyReadTimeout = 300 * time.Millisecond
	t.Cleanup(func() { httpx.BodyReadTimeout = old })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if r.URL.Path == "/form" {
			_, err = httpx.ReadForm(w, r, 1024, "test.bad_form")
		} else {
			var v map[string]any
			err = httpx.DecodeJSON(w, r, &v)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		time.Sleep(2 * httpx.BodyReadTimeout) // the deadline is lifted once the body is read
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ path, ct, body string }{
		{"/json", "application/json", `{"a":`},
		{"/form", "application/x-www-form-urlencoded", "a=1&"},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100\r\n\r\n%s", tc.path, tc.ct, tc.body)
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			_ = resp.Body.Close()
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: a slow body held the connection %v", tc.path, took)
		}
		_ = conn.Close()
	}
	// The same through a proxy calling the handler in-process (one
	// process: the gateway and the services): the deadline reaches the
	// client's connection (httpx.WithConn).
	front := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "svc" },
		Transport: transport.InProcess(srv.Config.Handler),
	})
	front.Config.ConnContext = httpx.WithConn
	front.Start()
	t.Cleanup(front.Close)
	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		_ = resp.Body.Close()
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("through the in-process transport: a slow body held the connection %v", took)
	}

	// A complete body is read, and the answer written after the deadline
	// would have passed arrives whole.
	resp, err := http.Post(srv.URL+"/json", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("complete body: %d", resp.StatusCode)
	}
}
