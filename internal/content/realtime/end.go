package realtime

import (
	"time"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

// endMemory is how long the hub remembers what it ended: a connection
// authenticated just before a revocation reached this replica (its deny
// list follows the revocations apart from the hub's ends) registers after
// the end swept the hub, and must be refused then.
const endMemory = time.Minute

// ended remembers recent ends, by what they matched; guarded by Hub.mu.
type ended struct {
	sessions, keys map[string]time.Time // until
	subjects       map[string]time.Time // when: tokens issued up to it
}

// remember records an end of kind ("session", "key", "subject") of id.
func (e *ended) remember(kind, id string, now time.Time) {
	if e.sessions == nil {
		e.sessions, e.keys, e.subjects = map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	}
	for _, m := range []map[string]time.Time{e.sessions, e.keys} {
		for k, until := range m {
			if now.After(until) {
				delete(m, k)
			}
		}
	}
	for k, at := range e.subjects {
		if now.After(at.Add(endMemory)) {
			delete(e.subjects, k)
		}
	}
	switch kind {
	case "session":
		e.sessions[id] = now.Add(endMemory)
	case "key":
		e.keys[id] = now.Add(endMemory)
	case "subject":
		e.subjects[id] = now
	}
}

// covers reports whether a recent end covers p.
func (e *ended) covers(p *authn.Principal, now time.Time) bool {
	if p == nil || e.sessions == nil {
		return false
	}
	if until, ok := e.sessions[p.SessionID]; ok && p.SessionID != "" && now.Before(until) {
		return true
	}
	if until, ok := e.keys[p.TokenID]; ok && p.Kind == authn.KindAPIKey && now.Before(until) {
		return true
	}
	at, ok := e.subjects[p.Subject]
	return ok && now.Before(at.Add(endMemory)) && !authn.IssuedAt(p).After(at)
}

// errEnded refuses a connection whose credential an end covers.
func errEnded() error {
	return errs.E(errs.Unauthenticated, CodeEnded, "This credential was revoked; sign in again.")
}

// EndSubject ends every connection of the principal subject (a user
// deleted, say): each gets an "ended" event (WebSocket: {"type":"ended"},
// then close 1008) with reason, and its stream ends. A client that
// reconnects must authenticate again. An empty subject ends nothing.
func (h *Hub) EndSubject(subject string, reason string) {
	if subject == "" {
		return
	}
	h.endWhere("subject", subject, func(p *authn.Principal) bool { return p.Subject == subject }, reason)
}

// EndSession ends every connection opened with a token of the session
// (Principal.SessionID), as EndSubject does. An empty id ends nothing.
func (h *Hub) EndSession(sessionID string, reason string) {
	if sessionID == "" {
		return
	}
	h.endWhere("session", sessionID, func(p *authn.Principal) bool { return p.SessionID == sessionID }, reason)
}

// EndAPIKey ends every connection opened with the API key of id
// (Principal.TokenID of a key), as EndSubject does: the key was revoked.
func (h *Hub) EndAPIKey(id string, reason string) {
	if id == "" {
		return
	}
	h.endWhere("key", id, func(p *authn.Principal) bool { return p.Kind == authn.KindAPIKey && p.TokenID == id }, reason)
}

// endWhere ends the connections whose principal match accepts, and
// remembers the end (kind, id) for connections registering in the next
// endMemory.
func (h *Hub) endWhere(kind, id string, match func(p *authn.Principal) bool, reason string) {
	if reason == "" {
		reason = endEnded
	}
	var ending []*client
	h.mu.Lock()
	h.ended.remember(kind, id, h.opts.Clock())
	for _, c := range h.clients {
		if c.principal != nil && match(c.principal) {
			ending = append(ending, c)
		}
	}
	h.mu.Unlock()
	for _, c := range ending {
		c.endWith(endEnded, reason)
	}
}
