package gateway

import (
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzhttp"
)

// compressWrapper compresses responses with gzip, or zstd when the client
// prefers it, with klauspost/compress's gzhttp: only when the response has
// no Content-Encoding of its own (the upstream compressed it: passed
// through as it is), its type is compressible and it reaches
// gzhttp.DefaultMinSize (1 KiB). It adds Vary: Accept-Encoding, and keeps
// Flush and Hijack working. Brotli, which gzhttp lacks, follows the same
// rules in brotli.go.
var compressWrapper = sync.OnceValue(func() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.ContentTypeFilter(compressible))
	if err != nil {
		panic(err) // the options are constant
	}
	return wrap
})

// compressible reports whether a response of content type ct is worth
// compressing: not the formats gzhttp knows to be compressed (archives,
// audio, video), nor images other than SVG, nor WOFF fonts. Never
// text/event-stream: gzhttp would hold back events below its minimum size,
// and SSE clients need each one as it is flushed.
func compressible(ct string) bool {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		switch {
		case mt == "text/event-stream", strings.HasPrefix(mt, "font/woff"),
			strings.HasPrefix(mt, "image/") && mt != "image/svg+xml":
			return false
		}
	}
	return gzhttp.DefaultContentTypeFilter(ct)
}

// compress wraps next so that its responses are compressed for clients
// that accept it: with brotli when the client's q-values rank br at least
// as high as gzip and zstd (wantsBrotli), else as gzhttp negotiates.
// Requests without Accept-Encoding, HEAD requests and protocol upgrades
// (WebSocket) skip the wrappers: it costs them nothing. Responses with
// Cache-Control: no-transform are never compressed (RFC 9111, section
// 5.2.2.6): brotliWriter checks, and for gzhttp noTransformWriter tells it.
func compress(next http.Handler) http.Handler {
	wrapped := compressWrapper()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&noTransformWriter{ResponseWriter: w}, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") == "" || r.Header.Get("Upgrade") != "" || r.Method == http.MethodHead {
			addVary(w.Header()) // a cache must not serve this answer to those that accept
			next.ServeHTTP(w, r)
			return
		}
		if wantsBrotli(r.Header) {
			addVary(w.Header())
			serveBrotli(next, w, r)
			return
		}
		wrapped.ServeHTTP(w, r)
	})
}

// varyAcceptEncoding is shared by responses that have no Vary yet, saving
// an allocation per request; its capacity is its length, so an append
// (the proxy adding the upstream's Vary) copies it instead of writing to it.
var varyAcceptEncoding = []string{"Accept-Encoding"}

func addVary(h http.Header) {
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, "Accept-Encoding")
		return
	}
	h["Vary"] = varyAcceptEncoding[:1:1]
}

// noTransform reports whether h's Cache-Control has the no-transform
// directive.
func noTransform(h http.Header) bool {
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var d string
			d, line, _ = strings.Cut(line, ",")
			if strings.EqualFold(strings.TrimSpace(d), "no-transform") {
				return true
			}
		}
	}
	return false
}

// noTransformWriter sits between a handler and gzhttp's writer: when the
// response head says no-transform, or has a type not worth compressing, it
// sets the header with which gzhttp leaves a response alone (gzhttp
// removes it before the head goes out). gzhttp sends the head only with
// the first byte of the body, so for such a response a flush before any
// byte (an SSE stream opening, ReverseProxy flushing the head) first
// writes nothing through it, which makes it send the head at once.
// (gzip and zstd responses keep the upstream's ETag: this writer runs
// before gzhttp decides to compress, and weakening every tag here would
// make If-Match, which compares strongly, fail on every write that sends
// back what a GET answered.)
type noTransformWriter struct {
	http.ResponseWriter
	checked, plain, wrote bool
}

func (w *noTransformWriter) check() {
	if !w.checked {
		w.checked = true
		h := w.Header()
		if ct := h.Get("Content-Type"); noTransform(h) || (ct != "" && !compressible(ct)) {
			h.Set(gzhttp.HeaderNoCompression, "1")
			w.plain = true
		}
	}
}

func (w *noTransformWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols { // not an interim response
		w.check()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noTransformWriter) Write(p []byte) (int, error) {
	w.check()
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush and FlushError keep streaming through (SSE, the proxy's flushes).
func (w *noTransformWriter) Flush() { _ = w.FlushError() }

func (w *noTransformWriter) FlushError() error {
	w.check()
	if w.plain && !w.wrote {
		if _, err := w.Write(nil); err != nil {
			return err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the writers below.
func (w *noTransformWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
