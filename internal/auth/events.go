package auth

import (
	"context"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/store"
)

// Events the auth service publishes, through its outbox, on the stream
// BAM_AUTH. Other services depend on these names and payloads.
const (
	EventUserCreated    = "bam.auth.user.created"    // UserEvent
	EventUserUpdated    = "bam.auth.user.updated"    // UserEvent
	EventUserDeleted    = "bam.auth.user.deleted"    // UserEvent: erase or anonymise this user's data
	EventSessionCreated = "bam.auth.session.created" // SessionEvent
	EventSessionRevoked = "bam.auth.session.revoked" // SessionRevokedEvent (authn follows it)
	EventLoginFailed    = "bam.auth.login.failed"    // LoginFailedEvent
	EventMFAEnabled     = "bam.auth.mfa.enabled"     // UserEvent
	EventAPIKeyRevoked  = "bam.auth.api_key.revoked" // APIKeyRevokedEvent: end what was opened with it
)

// UserEvent is the data of user.* and mfa.enabled events. It carries no
// secrets and no metadata: consumers that need more ask the API.
type UserEvent struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
	Disabled      bool   `json:"disabled"`
}

// SessionEvent is the data of session.created.
type SessionEvent struct {
	SID   string   `json:"sid"`
	Sub   string   `json:"sub"`
	AMR   []string `json:"amr"`
	IP    string   `json:"ip"`
	Agent string   `json:"userAgent"`
}

// SessionRevokedEvent is the data of session.revoked, in the shape
// internal/authn's deny-list follows: one session, or with All every token
// of Sub issued up to the event's time.
type SessionRevokedEvent struct {
	SID string `json:"sid,omitempty"`
	Sub string `json:"sub"`
	All bool   `json:"all,omitempty"`
}

// APIKeyRevokedEvent is the data of api_key.revoked: the key's id (an API
// key principal's TokenID) and its owner. Checks of the key fail within
// the verifiers' cache time; connections opened with it (realtime) end.
type APIKeyRevokedEvent struct {
	KeyID string `json:"keyId"`
	Owner string `json:"owner"`
}

// LoginFailedEvent is the data of login.failed. Email is included only
// when it belongs to an account (Sub set), so the stream holds no list of
// addresses strangers typed.
type LoginFailedEvent struct {
	Sub    string `json:"sub,omitempty"`
	Method string `json:"method"`
	IP     string `json:"ip"`
	Reason string `json:"reason"`
}

// emit writes an event to the outbox in tx: it is published if and only if
// tx commits.
func (s *Service) emit(ctx context.Context, tx *store.Tx, typ, subject string, data any) error {
	ev, err := bus.NewEvent("auth", typ, subject, data)
	if err != nil {
		return err
	}
	return s.Outbox.Enqueue(ctx, tx, ev)
}

func userEvent(u User) UserEvent {
	return UserEvent{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Disabled: u.Disabled}
}
