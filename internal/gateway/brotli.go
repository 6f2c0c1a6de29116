package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzhttp"
)

// Brotli settings for compressing on the fly: quality 3 costs about three
// times gzip's CPU for output a third smaller than gzip's on JSON (quality
// 4 is slower and no smaller there; 5 and up cost several times more), and
// a 256 KiB window keeps a pooled encoder near 1 MiB.
const (
	brotliQuality = 3
	brotliLGWin   = 18
)

// brotliEncoders are reused: a new encoder allocates its tables, a reset
// one nothing.
var brotliEncoders = sync.Pool{New: func() any {
	return brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliLGWin})
}}

var brotliWriters = sync.Pool{New: func() any { return new(brotliWriter) }}

// serveBrotli serves r with next, brotli-compressing the response when it
// qualifies (see brotliWriter). The stream is finished only when next
// returns normally: a handler that panics (the proxy aborting a response
// whose upstream broke off) leaves it unterminated, so the client sees a
// truncated body as an error rather than as a complete shorter one.
func serveBrotli(next http.Handler, w http.ResponseWriter, r *http.Request) {
	bw := brotliWriters.Get().(*brotliWriter)
	bw.ResponseWriter = w
	defer bw.release()
	next.ServeHTTP(bw, r)
	_ = bw.finish()
}

// brotliWriter compresses a response with brotli as it streams through,
// holding back at most gzhttp.DefaultMinSize bytes while it decides, and
// only when the headers have not decided already. It compresses when the
// upstream set no Content-Encoding, Content-Range or Cache-Control:
// no-transform, the status has a
// body, the Content-Type is compressible (sniffed from the first bytes
// when absent) and the body reaches the minimum size, or is flushed first
// (a stream of unknown length).
type brotliWriter struct {
	http.ResponseWriter
	code  int // the status held back while undecided
	state brotliState
	buf   []byte // the body held back while undecided
	enc   *brotli.Writer
}

type brotliState uint8

const (
	brotliUndecided brotliState = iota
	brotliPlain
	brotliCompressing
)

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *brotliWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader holds the status back, unless the headers already show
// whether the body will be compressed.
func (w *brotliWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: passed on at once
		return
	}
	if w.state != brotliUndecided || w.code != 0 {
		return // superfluous, as net/http would ignore it
	}
	w.code = code
	h := w.Header()
	switch cl, ct := contentLength(h), h.Get("Content-Type"); {
	case leftPlain(code, h):
		w.startPlain()
	case ct != "" && cl >= gzhttp.DefaultMinSize:
		w.startCompressing()
	}
}

// leftPlain reports whether an answer with status code and head h is
// never compressed, by the brotli writer or by gzhttp: no body, encoded
// already, a range, no-transform, a type not worth it, or a known length
// under gzhttp.DefaultMinSize.
func leftPlain(code int, h http.Header) bool {
	ct, cl := h.Get("Content-Type"), contentLength(h)
	return !bodyAllowed(code) || h.Get("Content-Encoding") != "" || h.Get("Content-Range") != "" || noTransform(h) ||
		(ct != "" && !compressible(ct)) || (cl >= 0 && cl < gzhttp.DefaultMinSize)
}

// contentLength is h's Content-Length, -1 when absent or invalid.
func contentLength(h http.Header) int64 {
	if v := h.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return -1
}

func (w *brotliWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case brotliPlain:
		return w.ResponseWriter.Write(p)
	case brotliCompressing:
		return w.enc.Write(p)
	}
	n := min(len(p), gzhttp.DefaultMinSize-len(w.buf))
	w.buf = append(w.buf, p[:n]...)
	if len(w.buf) < gzhttp.DefaultMinSize {
		return len(p), nil
	}
	if err := w.decide(); err != nil {
		return 0, err
	}
	if rest := p[n:]; len(rest) > 0 {
		if _, err := w.Write(rest); err != nil {
			return n, err
		}
	}
	return len(p), nil
}

// Flush sends what was written so far. An undecided response is decided
// now, as a stream whose length cannot be known.
func (w *brotliWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting its error; http.ResponseController prefers
// it.
func (w *brotliWriter) FlushError() error {
	if w.state == brotliUndecided {
		if w.code == 0 {
			w.code = http.StatusOK
		}
		if err := w.decide(); err != nil {
			return err
		}
	}
	if w.state == brotliCompressing {
		if err := w.enc.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// decide picks plain or compressed once the body reached the minimum size
// or is flushed: by the Content-Type, sniffed from the body when absent.
func (w *brotliWriter) decide() error {
	h := w.Header()
	ct := h.Get("Content-Type")
	if _, set := h["Content-Type"]; !set && len(w.buf) > 0 {
		ct = http.DetectContentType(w.buf)
		h.Set("Content-Type", ct) // net/http would sniff the compressed bytes instead
	}
	if ct != "" && compressible(ct) {
		return w.startCompressing()
	}
	return w.startPlain()
}

// startPlain sends the held status and body as they are.
func (w *brotliWriter) startPlain() error {
	w.state = brotliPlain
	w.ResponseWriter.WriteHeader(w.code)
	return w.flushBuf(w.ResponseWriter.Write)
}

// startCompressing announces the encoding and starts the brotli stream
// with the held body.
func (w *brotliWriter) startCompressing() error {
	w.state = brotliCompressing
	h := w.Header()
	h.Set("Content-Encoding", "br")
	h.Del("Content-Length")
	h.Del("Accept-Ranges") // byte ranges of the encoded body are not offered
	if etag := h.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		h.Set("ETag", "W/"+etag) // the bytes differ from the identity body's
	}
	if !varies(h) {
		addVary(h) // the handler replaced the Vary set before it ran
	}
	w.ResponseWriter.WriteHeader(w.code)
	w.enc = brotliEncoders.Get().(*brotli.Writer)
	w.enc.Reset(w.ResponseWriter)
	return w.flushBuf(w.enc.Write)
}

func (w *brotliWriter) flushBuf(write func([]byte) (int, error)) error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// finish ends the response after the handler returned: a body that never
// reached the minimum size goes out plain, a brotli stream is terminated.
func (w *brotliWriter) finish() error {
	switch w.state {
	case brotliUndecided:
		if w.code == 0 {
			return nil // nothing written: net/http answers 200 with no body
		}
		return w.startPlain()
	case brotliCompressing:
		return w.enc.Close()
	}
	return nil
}

// release returns the encoder and the writer to their pools.
func (w *brotliWriter) release() {
	if w.enc != nil {
		w.enc.Reset(nil)
		brotliEncoders.Put(w.enc)
	}
	*w = brotliWriter{buf: w.buf[:0]}
	brotliWriters.Put(w)
}

// bodyAllowed reports whether a response with status code has a body.
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// varies reports whether h's Vary lists Accept-Encoding (or "*").
func varies(h http.Header) bool {
	for _, line := range h["Vary"] {
		for line != "" {
			var v string
			v, line, _ = strings.Cut(line, ",")
			if v = strings.TrimSpace(v); v == "*" || strings.EqualFold(v, "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}
