package upstream

import (
	"errors"
	"io"
	"sync"
)

// clientBody records the first error reading the caller's request body:
// a body over the size limit (*http.MaxBytesError) or a client that went
// away mid-upload (io.ErrUnexpectedEOF). An attempt that failed because of
// that is the client's doing, not the replica's, and counts like a
// canceled request: no replica failure, no breaker failure.
type clientBody struct {
	rc io.ReadCloser

	mu  sync.Mutex
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

// failed reports whether reading the body failed.
func (b *clientBody) failed() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil
}
