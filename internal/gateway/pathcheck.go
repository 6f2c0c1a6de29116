package gateway

import (
	"net/http"
	"path"
	"strings"

	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
)

// badPath reports whether a request path is not in canonical form: one
// path.Clean would change (dot segments, doubled slashes; a trailing slash
// is kept), or whose escaped form hides a dot, a slash or a backslash
// (%2e, %2f, %5c, \). Routes match on the path as sent, so such a path
// could reach a route other than the one it names once an upstream
// resolves it: /v1/pub/../admin/x must not match /v1/pub/. A segment that
// is a dot segment once its matrix parameters are dropped (/..;x/, which
// Tomcat, Jetty and Spring resolve as ..) is refused too.
func badPath(r *http.Request) bool { return badPathOf(r.URL.Path, r.URL.RawPath) }

// badPathOf is badPath for a decoded path p and its escaped form raw ("":
// none other than p).
func badPathOf(p, raw string) bool {
	if p == "" {
		return false // no route matches it: answered 404
	}
	if strings.ContainsRune(p, '\\') {
		return true
	}
	if strings.Contains(p, ";") {
		for seg := range strings.SplitSeq(p, "/") {
			if name, _, ok := strings.Cut(seg, ";"); ok && (name == "." || name == "..") {
				return true
			}
		}
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return true
	}
	raw = strings.ToLower(raw)
	return strings.Contains(raw, "%2e") || strings.Contains(raw, "%2f") ||
		strings.Contains(raw, "%5c") || strings.ContainsRune(raw, '\\')
}

// rejectBadPath answers 400 to a path badPath refuses.
func rejectBadPath(w http.ResponseWriter, r *http.Request) {
	httpx.WriteError(w, r, errs.E(errs.Invalid, "gateway.bad_path",
		"the request path is not in canonical form (dot segments, doubled or encoded slashes, backslashes)"))
}
