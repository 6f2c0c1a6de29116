package httpx

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/bamhq/bam/internal/errs"
)

// BodyReadTimeout bounds the reading of a request body a handler decodes
// whole (DecodeJSON, ReadForm). The servers set no ReadTimeout, which
// would also cut the long uploads and streams the gateway passes through;
// without this a client sending a small body slowly would hold its
// connection and goroutine for as long as it likes. A variable for tests.
var BodyReadTimeout = 30 * time.Second

// bodyDeadline sets w's read deadline BodyReadTimeout from now, and
// returns what lifts it once the body is read whole (the response may take
// longer). After a failed read it stays: the server then gives up on the
// rest of the body at once instead of waiting for it to reuse the
// connection. A writer that cannot set one (an in-process call) is left
// be.
func bodyDeadline(w http.ResponseWriter) (lift func()) {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(BodyReadTimeout)) != nil {
		return func() {}
	}
	return func() { _ = rc.SetReadDeadline(time.Time{}) }
}

type connKey struct{}

// WithConn is an http.Server's ConnContext: it keeps the connection a
// request came on in its context, so that a handler reached through the
// in-process transport (one process: the gateway calls the services
// without a socket) can bound the reading of the body the client is still
// sending on it (ConnReadDeadline). A TLS connection is not kept: it may
// carry HTTP/2, whose streams share it.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	if _, isTLS := c.(*tls.Conn); isTLS {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, c)
}

// ConnReadDeadline sets the read deadline of the connection ctx's request
// came on (WithConn); http.ErrNotSupported when it is not known.
func ConnReadDeadline(ctx context.Context, t time.Time) error {
	c, ok := ctx.Value(connKey{}).(net.Conn)
	if !ok {
		return http.ErrNotSupported
	}
	return c.SetReadDeadline(t)
}

// ReadForm reads a form-encoded body of at most maxBytes, within
// BodyReadTimeout, and returns its values; a body that cannot be read is
// errs Invalid with code.
func ReadForm(w http.ResponseWriter, r *http.Request, maxBytes int64, code string) (url.Values, error) {
	lift := bodyDeadline(w)
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, code, "the form body could not be read")
	}
	lift()
	return r.PostForm, nil
}
