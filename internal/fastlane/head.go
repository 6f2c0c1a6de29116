package fastlane

import (
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
}

type field struct{ name, value []byte }

var heads = sync.Pool{New: func() any { return &Head{fields: make([]field, 0, 16)} }}

// ReadHead scans h's fields as sent into a pooled Head; Release gives it
// back. The lane does this for every request it serves.
func ReadHead(h *fasthttp.RequestHeader) *Head {
	hd := heads.Get().(*Head)
	for k, v := range h.AllInOrder() {
		hd.fields = append(hd.fields, field{k, v})
	}
	return hd
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
	heads.Put(hd)
}
