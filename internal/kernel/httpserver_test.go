package kernel_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/kernel"
)

// TestHTTPServerDrains stops a server while a slow request is in flight:
// the request completes, and new connections are refused.
func TestHTTPServerDrains(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	srv := &kernel.HTTPServer{Name: "test", Addr: "127.0.0.1:0", Handler: mux, Log: quiet()}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.BoundAddr()

	type result struct {
		body string
		err  error
	}
	got := make(chan result)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered

	stopped := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- srv.Stop(ctx)
	}()
	// New connections are refused once Stop has closed the listener.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", srv.BoundAddr(), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections while stopping")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v; want it to finish", r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
}

// TestHTTPServerDrainDeadline: a request that outlives the deadline is cut
// off and Stop says so.
func TestHTTPServerDrainDeadline(t *testing.T) {
	entered := make(chan struct{})
	srv := &kernel.HTTPServer{Name: "test", Addr: "127.0.0.1:0", Log: quiet(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done()
		})}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	go http.Get("http://" + srv.BoundAddr())
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Stop(ctx); err == nil {
		t.Fatal("Stop = nil, want the deadline error")
	}
}

func TestHTTPServerPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &kernel.HTTPServer{Name: "test", Addr: ln.Addr().String(), Handler: http.NotFoundHandler(), Log: quiet()}
	if err := srv.Start(t.Context()); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
}
