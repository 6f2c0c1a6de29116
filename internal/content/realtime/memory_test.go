package realtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/testenv"
)

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestLargeChangeLeavesNoBuffersBehind delivers one 1 MiB change to n SSE
// connections: once it is written the heap is back near where it was
// (plus the change itself, which the resume window keeps), not n MiB
// above it.
func TestLargeChangeLeavesNoBuffersBehind(t *testing.T) {
	const n = 32
	hub := realtime.NewHub(realtime.Options{Authorizer: testAuth{}, Logger: quietLogger(), Heartbeat: time.Hour,
		MaxConnectionsPerSubject: -1})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var handlers sync.WaitGroup
	defer func() { cancel(); handlers.Wait() }()
	var connected sync.WaitGroup
	connected.Add(n)
	var changes atomic.Int64
	for range n {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/realtime?subscribe=posts/*", nil)
		w := &memWriter{header: http.Header{}, connected: connected.Done, change: func() { changes.Add(1) }}
		handlers.Add(1)
		go func() { defer handlers.Done(); hub.ServeHTTP(w, req) }()
	}
	connected.Wait()
	hub.Publish(change(1, "posts", "p0", "public", true)) // warm up: first allocations of every connection
	testenv.WaitFor(t, wait, "the warm-up change delivered", func() bool { return changes.Load() == n })

	before := heapInUse()
	hub.Publish(change(2, "posts", "p1", "public", true, "body", strings.Repeat("x", 1<<20)))
	// A change after it: once every connection started writing that one,
	// the big one is fully written.
	hub.Publish(change(3, "posts", "p2", "public", true))
	testenv.WaitFor(t, wait, "all three changes delivered", func() bool { return changes.Load() == 3*n })
	grew := int64(heapInUse()) - int64(before)
	t.Logf("heap grew by %d KiB", grew>>10)
	// The window holds the change (its record and its encoding): ~2 MiB.
	if grew > 6<<20 {
		t.Fatalf("heap grew by %d KiB after a 1 MiB change to %d connections: buffers are kept", grew>>10, n)
	}
}
