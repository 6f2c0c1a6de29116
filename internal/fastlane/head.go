package fastlane

import (
	"bytes"
	"iter"
	"sync"

	"github.com/valyala/fasthttp"
)

// Head is the header fields of the request being served, in the order its
// client sent them, names normalized as fasthttp does. fasthttp's parsed
// header is no copy of what was sent (it keeps cookies apart and drops a
// Transfer-Encoding it ignores), and reading the fields as sent means
// scanning the raw header again, every value byte by byte: the lane does
// it once per request, and its checks, its net/http view and a Native
// handler all read this. The fields are views of the request's buffer,
// valid while the request is served.
type Head struct {
	fields []field
	own    []byte // the fields' bytes when the header had folded lines
}

type field struct{ name, value []byte }

var heads = sync.Pool{New: func() any { return &Head{fields: make([]field, 0, 16)} }}

// ReadHead scans h's fields as sent into a pooled Head; Release gives it
// back. The lane does this for every request it serves.
//
// The scan joins a field's continuation lines (obsolete line folding) in
// the raw header itself, where a request handed to net/http is replayed
// from: so when there are any, the fields are copied out and the raw bytes
// put back as they came.
func ReadHead(h *fasthttp.RequestHeader) *Head {
	hd := heads.Get().(*Head)
	raw := h.RawHeaders()
	var sent []byte
	if bytes.Contains(raw, []byte("\n ")) || bytes.Contains(raw, []byte("\n\t")) {
		sent = bytes.Clone(raw)
	}
	for k, v := range h.AllInOrder() {
		hd.fields = append(hd.fields, field{k, v})
	}
	if sent != nil {
		hd.keep()
		copy(raw, sent)
	}
	return hd
}

// keep makes hd's fields views of its own copy of their bytes.
func (hd *Head) keep() {
	hd.own = hd.own[:0]
	for _, f := range hd.fields {
		hd.own = append(append(hd.own, f.name...), f.value...)
	}
	at := 0
	for i, f := range hd.fields {
		n, v := len(f.name), len(f.value)
		hd.fields[i] = field{hd.own[at : at+n : at+n], hd.own[at+n : at+n+v : at+n+v]}
		at += n + v
	}
}

// All yields each field, name and value, in the order sent.
func (hd *Head) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, f := range hd.fields {
			if !yield(f.name, f.value) {
				return
			}
		}
	}
}

// Release returns hd to the pool; it must not be used after.
func (hd *Head) Release() {
	clear(hd.fields)
	hd.fields = hd.fields[:0]
	hd.own = hd.own[:0]
	heads.Put(hd)
}
