package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/transport"
)

// scenarios run unchanged against every transport: what a caller and a
// handler can observe must not depend on the shape of the program.
var scenarios = []struct {
	name string
	run  func(t *testing.T, c *http.Client, s *service, inProcess bool)
}{
	{"status headers body", func(t *testing.T, c *http.Client, s *service, _ bool) {
		resp := get(t, c, context.Background(), "/hello")
		body := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.Proto != "HTTP/1.1" || body != "hello" ||
			resp.Header.Get("X-Test") != "yes" || resp.ContentLength != 5 || resp.Request == nil {
			t.Fatalf("got %s %s len=%d header=%v body=%q", resp.Proto, resp.Status, resp.ContentLength, resp.Header, body)
		}
	}},
	{"server-side request", func(t *testing.T, c *http.Client, s *service, _ bool) {
		req, _ := http.NewRequest("GET", "http://svc/info?q=a%20b", nil)
		req.Host = "auth.internal"
		req.Header.Set("X-In", "v")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]string
		if err := json.Unmarshal([]byte(readAll(t, resp)), &info); err != nil {
			t.Fatal(err)
		}
		host, _, err := net.SplitHostPort(info["remoteAddr"])
		if info["requestURI"] != "/info?q=a%20b" || info["host"] != "auth.internal" || info["proto"] != "HTTP/1.1" ||
			info["urlHost"] != "" || info["query"] != "a b" || info["header"] != "v" || err != nil || net.ParseIP(host) == nil {
			t.Fatalf("handler saw %v", info)
		}
	}},
	{"head", func(t *testing.T, c *http.Client, s *service, _ bool) {
		req, _ := http.NewRequest("HEAD", "http://svc/hello", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); body != "" || resp.ContentLength != 5 {
			t.Fatalf("HEAD: len=%d body=%q", resp.ContentLength, body)
		}
	}},
	{"content type sniffed", func(t *testing.T, c *http.Client, s *service, _ bool) {
		resp := get(t, c, context.Background(), "/sniff")
		readAll(t, resp)
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("Content-Type = %q", ct)
		}
	}},
	{"headers after WriteHeader ignored", func(t *testing.T, c *http.Client, s *service, _ bool) {
		resp := get(t, c, context.Background(), "/late-header")
		if body := readAll(t, resp); resp.StatusCode != 201 || resp.Header.Get("X-Late") != "" || body != "made" {
			t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
		}
	}},
	{"not found", func(t *testing.T, c *http.Client, s *service, _ bool) {
		resp := get(t, c, context.Background(), "/nope")
		if body := readAll(t, resp); resp.StatusCode != 404 || !strings.Contains(body, "404 page not found") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}},
	{"echo small and large bodies", func(t *testing.T, c *http.Client, s *service, _ bool) {
		for _, n := range []int{0, 1, 4 << 10, 4<<10 + 1, 8 << 20} {
			in := make([]byte, n)
			_, _ = rand.Read(in)
			resp, err := c.Post("http://svc/echo", "application/octet-stream", bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if out := readAll(t, resp); resp.StatusCode != 200 || out != string(in) {
				t.Fatalf("echo of %d bytes: status %d, %d bytes back", n, resp.StatusCode, len(out))
			}
		}
	}},
	{"streaming", func(t *testing.T, c *http.Client, s *service, _ bool) {
		// The handler blocks after its first line until we have read it: the
		// response can only arrive if it streams.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp := get(t, c, ctx, "/stream")
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); line != "first\n" || err != nil {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(s.release)
		rest, err := io.ReadAll(br)
		if string(rest) != "second\n" || err != nil {
			t.Fatalf("rest %q, %v", rest, err)
		}
	}},
	{"caller cancel reaches handler", func(t *testing.T, c *http.Client, s *service, _ bool) {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc/wait", nil)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		within(t, s.started, "handler start")
		cancel()
		if err := within(t, s.stopped, "handler to see the cancel"); !errors.Is(err, context.Canceled) {
			t.Fatalf("handler ctx err = %v", err)
		}
		if err := within(t, errc, "Do to return"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Do err = %v", err)
		}
	}},
	{"early body close unblocks handler", func(t *testing.T, c *http.Client, s *service, _ bool) {
		resp := get(t, c, context.Background(), "/flood")
		within(t, s.started, "handler start")
		if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := within(t, s.stopped, "handler to stop"); err == nil {
			t.Fatal("handler stopped without an error")
		}
	}},
	{"handler panic", func(t *testing.T, c *http.Client, s *service, inProcess bool) {
		resp, err := c.Get("http://svc/panic")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %s, want an error", resp.Status)
		}
		if inProcess && !errors.Is(err, transport.ErrAborted) {
			t.Fatalf("err = %v, want ErrAborted", err)
		}
	}},
}

func TestTransports(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					s := newService()
					c := &http.Client{Transport: tr.new(t, s.handler())}
					sc.run(t, c, s, tr.name == "in-process")
				})
			}
		})
	}
}
