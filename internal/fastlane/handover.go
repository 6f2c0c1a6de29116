package fastlane

import (
	"bytes"
	"io"
	"net"
	"net/http/httputil"
	"sync"

	"github.com/valyala/fasthttp"
)

// handOver gives ctx's connection to the net/http server behind l: fasthttp
// sends no response, and net/http reads the request again — its line and
// headers as they came, then its body, then whatever the client sends
// next on the connection, which it keeps (the server sets
// KeepHijackedConns: fasthttp neither closes nor recycles it). The body
// may still be in fasthttp's buffer, read through the request's stream,
// so fasthttp's goroutine waits until the body has been read, or the
// connection closed, before it lets fasthttp recycle the request.
func handOver(ctx *fasthttp.RequestCtx, l *connListener) {
	h := &ctx.Request.Header
	head := make([]byte, 0, len(h.RawHeaders())+len(h.RequestURI())+32)
	head = append(head, h.Method()...)
	head = append(head, ' ')
	head = append(head, h.RequestURI()...)
	head = append(head, ' ')
	head = append(head, h.Protocol()...)
	head = append(head, '\r', '\n')
	head = appendWithout(head, h.RawHeaders(), "expect") // fasthttp answered 100-continue already
	if !bytes.HasSuffix(head, []byte("\n\r\n")) && !bytes.HasSuffix(head, []byte("\n\n")) {
		head = append(head, '\r', '\n') // the blank line that ends the head
	}
	chunked := h.ContentLength() == -1
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		body := &guardedBody{r: bytes.NewReader(nil), done: make(chan struct{})}
		stop := func() {}
		if s := ctx.RequestBodyStream(); s != nil {
			body.r = s
			if chunked { // fasthttp decoded the chunks: encode them again
				body.r, stop = rechunk(s)
			}
		}
		hc := &handedConn{Conn: c, r: io.MultiReader(bytes.NewReader(head), body, c), closed: make(chan struct{})}
		if !l.push(hc) { // shutting down
			_ = hc.Close()
		}
		select {
		case <-body.done:
		case <-hc.closed:
		}
		body.end() // fasthttp recycles the request's stream once this returns
		stop()
	})
}

// guardedBody is a handed-over request's body: done is closed once it has
// been read to its end (or failed), and after end it reads nothing more.
type guardedBody struct {
	mu   sync.Mutex
	r    io.Reader
	dead bool
	once sync.Once
	done chan struct{}
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return 0, net.ErrClosed
	}
	n, err := b.r.Read(p)
	if err != nil {
		b.once.Do(func() { close(b.done) })
	}
	return n, err
}

// end waits for a read in progress (the connection is closed by then, or
// the body ended) and refuses the next ones.
func (b *guardedBody) end() {
	b.mu.Lock()
	b.dead = true
	b.mu.Unlock()
}

// appendWithout appends the raw header lines of raw to dst, less those
// named name (lower case).
func appendWithout(dst, raw []byte, name string) []byte {
	dropping := false // the lines that continue a dropped one (obs-fold) go with it
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i+1], raw[i+1:]
		} else {
			raw = nil
		}
		if dropping && (line[0] == ' ' || line[0] == '\t') {
			continue
		}
		dropping = false
		if colon := bytes.IndexByte(line, ':'); colon >= 0 &&
			bytes.EqualFold(bytes.TrimSpace(line[:colon]), []byte(name)) {
			dropping = true
			continue
		}
		dst = append(dst, line...)
		if line[len(line)-1] != '\n' {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}

// rechunk encodes r in the chunked transfer coding, lazily; stop ends the
// encoding and returns once r is no longer read.
func rechunk(r io.Reader) (chunked io.Reader, stop func()) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		cw := httputil.NewChunkedWriter(pw)
		_, err := io.Copy(cw, r)
		if err == nil {
			err = cw.Close()
		}
		if err == nil {
			_, err = pw.Write([]byte("\r\n")) // no trailers
		}
		pw.CloseWithError(err)
	}()
	return pr, func() {
		pr.CloseWithError(net.ErrClosed)
		<-done
	}
}

// handedConn is a connection net/http reads from the replayed request
// first; closing it ends a body still being read.
type handedConn struct {
	net.Conn
	r      io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *handedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *handedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// connListener is the net.Listener net/http serves: it accepts the
// connections handed over.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to the net/http server; false when it is closed.
func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
