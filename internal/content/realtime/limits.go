package realtime

import (
	"net/http"

	"github.com/bamhq/bam/internal/authn"
)

// retryAfterSeconds is the Retry-After of a connection refused for
// Options.MaxConnectionsPerSubject: a connection of the same caller must
// end first, which the hub cannot foresee.
const retryAfterSeconds = "10"

// limitKey is what Options.MaxConnectionsPerSubject counts r's connection
// against: its principal's subject, or, when anonymous, its ClientKey.
func (h *Hub) limitKey(p *authn.Principal, r *http.Request) string {
	if p != nil && p.Subject != "" {
		return "subject:" + p.Subject
	}
	return "client:" + h.opts.ClientKey(r)
}
