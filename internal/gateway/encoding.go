package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// wantsBrotli reports whether the response to a request with header h
// should be brotli-compressed rather than gzip- or zstd-compressed (or not
// at all): the client accepts br (q > 0) with a q-value at least that of
// gzip and above that of zstd. Ties go zstd, then br, then gzip: at the
// levels a gateway can afford per response, zstd is the cheapest and br
// the smallest output of the other two (BenchmarkCompress). "*" is not
// taken to mean br, as gzhttp does not take it to mean gzip or zstd.
//
// It reads every Accept-Encoding line and allocates nothing.
func wantsBrotli(h http.Header) bool {
	br, gz, zstd := -1.0, -1.0, -1.0
	for _, line := range h["Accept-Encoding"] {
		for line != "" {
			var elem string
			elem, line, _ = strings.Cut(line, ",")
			coding, q := parseCoding(elem)
			switch {
			case strings.EqualFold(coding, "br"):
				br = q
			case strings.EqualFold(coding, "gzip"):
				gz = q
			case strings.EqualFold(coding, "zstd"):
				zstd = q
			}
		}
	}
	return br > 0 && br >= gz && br > zstd
}

// parseCoding splits one Accept-Encoding element ("br;q=0.8") into its
// coding and q-value (RFC 9110, section 12.5.3): 1 without a q parameter,
// 0 for one that does not parse, clamped to [0, 1].
func parseCoding(elem string) (string, float64) {
	coding, params, _ := strings.Cut(elem, ";")
	q := 1.0
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		switch {
		case err != nil || !(v > 0): // also NaN
			q = 0
		case v > 1:
			q = 1
		default:
			q = v
		}
	}
	return strings.TrimSpace(coding), q
}
