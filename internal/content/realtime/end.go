package realtime

import "github.com/bamhq/bam/internal/authn"

// EndSubject ends every connection of the principal subject (a user
// deleted, say): each gets an "ended" event (WebSocket: {"type":"ended"},
// then close 1008) with reason, and its stream ends. A client that
// reconnects must authenticate again. An empty subject ends nothing.
func (h *Hub) EndSubject(subject string, reason string) {
	if subject == "" {
		return
	}
	h.endWhere(func(p *authn.Principal) bool { return p.Subject == subject }, reason)
}

// EndSession ends every connection opened with a token of the session
// (Principal.SessionID), as EndSubject does. An empty id ends nothing.
func (h *Hub) EndSession(sessionID string, reason string) {
	if sessionID == "" {
		return
	}
	h.endWhere(func(p *authn.Principal) bool { return p.SessionID == sessionID }, reason)
}

// EndAPIKey ends every connection opened with the API key of id
// (Principal.TokenID of a key), as EndSubject does: the key was revoked.
func (h *Hub) EndAPIKey(id string, reason string) {
	if id == "" {
		return
	}
	h.endWhere(func(p *authn.Principal) bool { return p.Kind == authn.KindAPIKey && p.TokenID == id }, reason)
}

// endWhere ends the connections whose principal match accepts.
func (h *Hub) endWhere(match func(p *authn.Principal) bool, reason string) {
	if reason == "" {
		reason = endEnded
	}
	var ending []*client
	h.mu.Lock()
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
