package transport

import (
	"io"
	"sync"
)

// HeldBody hands one request body to attempt after attempt. An
// http.Transport closes the body of a request it failed to send; while
// another attempt may follow, that close is held back, and done on Release.
// Retrying is only safe while the body is untouched (Touched is false): a
// failed dial has read nothing.
type HeldBody struct {
	rc io.ReadCloser

	mu     sync.Mutex
	hold   bool
	closed bool // a Close arrived while held
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

// Release stops holding: a Close that already arrived is done now, later
// ones go straight through.
func (b *HeldBody) Release() {
	b.mu.Lock()
	b.hold = false
	closed := b.closed
	b.mu.Unlock()
	if closed {
		_ = b.rc.Close()
	}
}
