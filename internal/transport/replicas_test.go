package transport_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/transport"
)

// deadAddr returns the URL of a port nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// onlyReader hides strings.Reader so that http.NewRequest sets no GetBody:
// the retry must work with a body it cannot rewind.
type onlyReader struct{ io.Reader }

func TestReplicasSkipDeadReplica(t *testing.T) {
	live := startServer(t, newService().handler())
	r := replicasOf(t, deadAddr(t), live.URL)
	c := &http.Client{Transport: r}
	for i := range 4 { // every starting replica, twice
		resp, err := c.Get("http://svc/hello")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		if body := readAll(t, resp); body != "hello" {
			t.Fatalf("GET %d: %q", i, body)
		}
		req, _ := http.NewRequest("POST", "http://svc/echo", onlyReader{strings.NewReader("payload")})
		resp, err = c.Do(req)
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		if body := readAll(t, resp); body != "payload" {
			t.Fatalf("POST %d: %q", i, body)
		}
	}
}

func TestReplicasAllDead(t *testing.T) {
	c := &http.Client{Transport: replicasOf(t, deadAddr(t), deadAddr(t))}
	resp, err := c.Get("http://svc/hello")
	if err == nil {
		resp.Body.Close()
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), "no replica answered") || strings.Count(err.Error(), "connection refused") != 2 {
		t.Fatalf("err = %v", err)
	}
}

func TestReplicasRoundRobin(t *testing.T) {
	hits := make([]int, 2)
	var urls []string
	for i := range hits {
		urls = append(urls, startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits[i]++ })).URL)
	}
	c := &http.Client{Transport: replicasOf(t, urls...)}
	for range 10 {
		resp, err := c.Get("http://svc/")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	if hits[0] != 5 || hits[1] != 5 {
		t.Fatalf("hits = %v, want 5 each", hits)
	}
}

func TestNewReplicasValidates(t *testing.T) {
	for _, bad := range [][]string{nil, {"127.0.0.1:8081"}, {"http://h/prefix"}, {"ftp://h"}, {"http://h?x=1"}} {
		if _, err := transport.NewReplicas(bad); err == nil {
			t.Errorf("NewReplicas(%q) accepted", bad)
		}
	}
}
