package transport_test

import (
	"io"
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/transport"
)

// closeCounter counts the Closes that reach the body.
type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return nil }

// TestHeldBodyAttempts: a Close from a failed attempt is held back and
// forgotten when the body goes to the next attempt; Release does only the
// current attempt's, and a later Close goes straight through.
func TestHeldBodyAttempts(t *testing.T) {
	rc := &closeCounter{Reader: strings.NewReader("body")}
	b := transport.HoldBody(rc)
	_ = b.Close() // the first attempt's dial failed
	if rc.closes != 0 || b.Touched() {
		t.Fatalf("closes %d, touched %v: a held Close must wait", rc.closes, b.Touched())
	}
	b.NextAttempt()
	b.Release() // a response came back; the second attempt still sends the body
	if rc.closes != 0 {
		t.Fatal("Release did the failed attempt's Close: the upload would be cut")
	}
	if got, _ := io.ReadAll(b); string(got) != "body" || !b.Touched() {
		t.Fatalf("read %q", got)
	}
	_ = b.Close() // the second attempt is done
	if rc.closes != 1 {
		t.Fatalf("closes %d, want 1", rc.closes)
	}

	rc = &closeCounter{Reader: strings.NewReader("")}
	b = transport.HoldBody(rc)
	_ = b.Close() // the only attempt failed: the body is closed on Release
	b.Release()
	if rc.closes != 1 {
		t.Fatalf("closes %d, want 1", rc.closes)
	}
}
