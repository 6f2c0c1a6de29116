package outbox

import (
	"context"
	"sync"
	"time"
)

// CrashAfterPublish makes the relay of o die right after its next publish,
// before it deletes the published rows: what a crash of the process there
// leaves behind. The returned channel is closed once it has happened. Call it
// before Start.
func CrashAfterPublish(o *Outbox) <-chan struct{} {
	crashed := make(chan struct{})
	var once sync.Once
	o.afterPublish = func() {
		o.mu.Lock()
		kill := o.kill
		o.mu.Unlock()
		kill()
		once.Do(func() { close(crashed) })
	}
	return crashed
}

// CountPasses counts the relay passes of o that publish rows. Call it
// before Start; it replaces CrashAfterPublish.
func CountPasses(o *Outbox) func() int {
	var mu sync.Mutex
	n := 0
	o.afterPublish = func() { mu.Lock(); n++; mu.Unlock() }
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// KeepPublishedOf returns o's KeepPublished, its default applied.
func KeepPublishedOf(o *Outbox) time.Duration { return o.opts.KeepPublished }

// PublishedThrough returns the seq through which o's relay has published
// every row that is not parked (SQLite; 0 on PostgreSQL).
func PublishedThrough(o *Outbox) int64 { return o.cursor() }

// SettleOnce runs one of the relay's own deletes of published rows that
// are due (what it does when the outbox has gone quiet), and reports
// whether it deleted any.
func SettleOnce(o *Outbox) bool { return o.settleSent(context.Background()) }
