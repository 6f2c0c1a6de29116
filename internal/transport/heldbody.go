package transport

import (
	"io"
	"sync"
)

// HeldBody hands one request body to attempt after attempt. An
// http.Transport closes the body of a request it failed to send; while
// another attempt may follow, that close is held back. NextAttempt forgets
// it when the body goes to another attempt, and Release does the current
// attempt's: a close held back from a failed attempt must not cut the body
// the next one is still sending once a response arrived. Retrying is only
// safe while the body is untouched (Touched is false): a failed dial has
// read nothing.
type HeldBody struct {
	rc io.ReadCloser

	mu     sync.Mutex
	hold   bool
	closed bool // the current attempt's Close arrived while held
	read   bool
}

// HoldBody wraps rc, holding back its Close until Release.
func HoldBody(rc io.ReadCloser) *HeldBody { return &HeldBody{rc: rc, hold: true} }

// Read implements io.Reader.
func (b *HeldBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.read = true
	b.mu.Unlock()
	return b.rc.Read(p)
}

// Close implements io.Closer; while held, it is only noted.
func (b *HeldBody) Close() error {
	b.mu.Lock()
	if b.hold {
		b.closed = true
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.rc.Close()
}

// Touched reports whether any attempt has read from the body.
func (b *HeldBody) Touched() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

// NextAttempt hands the body to another attempt: the previous attempt's
// Close, if it arrived, is forgotten (that attempt is done with the body).
func (b *HeldBody) NextAttempt() {
	b.mu.Lock()
	b.closed = false
	b.mu.Unlock()
}

// Release stops holding: the current attempt's Close, if it already
// arrived, is done now; later ones go straight through.
func (b *HeldBody) Release() {
	b.mu.Lock()
	b.hold = false
	closed := b.closed
	b.mu.Unlock()
	if closed {
		_ = b.rc.Close()
	}
}
