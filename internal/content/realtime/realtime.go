// Package realtime delivers record changes to connected clients over
// Server-Sent Events and WebSocket: one connection multiplexes many
// subscriptions, each change is checked per subscriber in memory, and a
// client that reconnects with Last-Event-ID gets what it missed within a
// bounded window.
//
// The Hub knows nothing of NATS or SQL. The content service feeds it
// Changes with Publish (from one goroutine, in stream order, Seq increasing)
// and supplies the Authorizer that turns a subscription into a Matcher (the
// collection's view rule and the subscription's filter, evaluated in
// memory). The caller's principal is read from the request context
// (authn.FromContext; absent means anonymous), so authn.Middleware must run
// before the Hub.
//
// # Matchers and concurrency
//
// Matchers run outside the hub's lock, on an immutable snapshot of the
// collection's subscribers: the subscription index is copy-on-write,
// swapped atomically when a connection opens, closes or changes its
// subscriptions, and Publish reads it without locking. So a slow rule
// delays the changes behind it, never a new connection or a subscribe.
// Matchers are called concurrently (Publish's goroutine, resuming
// connections' replays) and must be safe for concurrent use; an
// Authorizer that caches state for them must guard it.
//
// # Subscriptions
//
// A subscription is {"id"?, "topic", "filter"?}. Topic "posts/*" matches
// every record of posts, "posts/<id>" that one record; the filter is an
// expression of the content filter language. A subscription's name is its
// id, or its topic when it has none; names are unique on a connection and
// are what a change lists under "subscriptions" (the names it matched,
// once per connection per change however many match). At most
// Options.MaxSubscriptions (100) per connection.
//
// # Server-Sent Events
//
// GET /v1/realtime without an Upgrade header. Initial subscriptions come
// from the query: subscribe=<topic> (repeatable, no filter) and/or
// subscriptions=<JSON array of {id?, topic, filter?}>. A subscription that
// is refused answers 400 problem+json before the stream starts, with
// errors[].field "subscriptions.<index>" (index into the subscribe values
// followed by the subscriptions array). Response headers: Content-Type
// text/event-stream, Cache-Control no-cache, X-Accel-Buffering no. Events:
//
//	event: connect              data {"clientId": "…"}; id: <seq> once the replica knows its stream position
//	event: reset                data {"reason": "too_old"|"ahead"|"unknown"|"invalid"}: refetch, then live
//	id: <seq>, event: change    data {"action","collection","id","record","subscriptions":[names]}
//	event: overflow             data {"reason": …}: the connection fell behind and is closed
//	event: expired              data {"reason": …}: the principal's token expired, or the connection
//	                            reached Options.MaxConnectionAge; reconnect with a fresh credential
//	event: ended                data {"reason": …}: EndSubject or EndSession ended it (the reason is
//	                            the caller's, e.g. "user_deleted"); authenticate again
//	: ping                      a comment every Options.Heartbeat (25 s)
//
// The connect event's id is the position from which the connection
// delivers everything that matches, so a client that saw no change still
// resumes without a gap. Events are flushed as soon as the send queue is
// empty (a burst is written in one flush). On shutdown the stream simply
// ends; EventSource reconnects (to another replica) by itself. A change's
// encoding is made once, shared by every connection and the resume
// window; each connection writes its own head, that shared body and the
// matched names as separate writes, and keeps no buffer larger than
// 64 KiB between messages.
//
// POST /v1/realtime {"clientId": "…", "subscriptions": [...]} replaces the
// subscriptions of an SSE connection (an empty list removes them all). Only
// the principal that opened it may (same Subject, or both anonymous);
// anything else, like an unknown clientId, answers 404 problem+json. It
// answers 200 {"clientId", "subscriptions": [accepted]} or 400 naming the
// failing index, in which case the previous set is kept. Matchers are built
// for the connection's own principal; new subscriptions start live.
//
// # WebSocket
//
// GET /v1/realtime with Upgrade: websocket (github.com/coder/websocket).
// Only same-origin requests, requests without Origin (non-browser clients),
// and origins matching Options.AllowedOrigins are accepted; patterns are
// path.Match patterns against the Origin's host ("app.example.com",
// "*.example.com"), or against "scheme://host" when they contain "://".
// Other origins get 403. The subscriptions query works as for SSE.
// Client messages (text, JSON, at most Options.MaxMessageBytes, 16 KiB):
//
//	{"type":"subscribe","id":"s1","topic":"posts/*","filter":"views > 10"}   (same id: replaces)
//	{"type":"unsubscribe","id":"s1"}
//	{"type":"ping"}
//
// Server messages:
//
//	{"type":"connected","clientId":"…","seq":N}        seq once the replica knows its position
//	{"type":"ack","id":"s1"}
//	{"type":"error","id":"s1","error":{"status","code","detail","errors"}}
//	{"type":"change","seq":N,"action","collection","id","record","subscriptions":["s1"]}
//	{"type":"reset","reason":"…"}
//	{"type":"pong"}
//	{"type":"overflow"|"expired"|"ended","reason":"…"}  then the server closes the connection
//
// An ack is sent before any change of the subscription it acknowledges.
// Once a subscription is removed, or replaced with another topic or
// filter, no change is written naming it, not even one it matched just
// before; one subscribed again unchanged loses nothing (this holds for
// POST updates too). Close codes: 1001 going away
// (shutdown), 1013 try again later (overflow), 1008 policy violation
// (expired, ended), 1009 message too big. A change of more than 16 KiB is
// sent as one message in several frames.
// WebSocket pings are sent every Options.Heartbeat.
//
// # Resume
//
// Header Last-Event-ID, or query lastEventId (the only way for WebSocket):
// the connection first gets the window's changes with Seq greater than it
// that its initial (query) subscriptions match, then live ones. When the
// id is older than the window, ahead of it, not a number, or the replica
// has no stream position yet, it first gets a reset instead (and no
// replay): the client refetches what it shows. WebSocket subscriptions
// added by message start live.
//
// # Limits and delivery
//
// Publish never blocks on a client: each connection has a send queue of
// Options.SendQueue (256) messages; a connection whose queue is full is
// closed with a final overflow message, and its client reconnects with its
// last id, losing nothing that is still in the window (Options.WindowSize,
// 10,000 changes; Options.WindowMaxBytes, 64 MiB of encoded changes; and
// optionally Options.WindowMaxAge). Subscriptions are indexed by
// collection, so a change only visits that collection's subscribers. A
// Matcher that errors or panics counts as no match, is logged (at most
// once a second) and counted, and never stops delivery to others. A write
// that blocks for about Options.WriteTimeout (10 s) ends the connection.
//
// One principal subject may hold Options.MaxConnectionsPerSubject (20)
// connections at once; anonymous callers are counted by Options.ClientKey
// (by default the host of the request's RemoteAddr: behind a proxy, set it
// to the client address the proxy reports). One more answers 429
// problem+json (content.too_many_connections) with Retry-After.
//
// A connection keeps the principal it opened with, so it ends: when the
// principal's ExpiresAt passes, after Options.MaxConnectionAge (24 h, for
// principals without expiry such as API keys too), with "expired"; and
// with "ended" when the service calls EndSubject (a user deleted) or
// EndSession (a session revoked). Close ends every connection and makes
// the Hub refuse new ones with 503.
//
// Metrics: bam_realtime_connections{transport}, bam_realtime_deliveries_total,
// bam_realtime_dropped_total{reason}, bam_realtime_matcher_errors_total,
// bam_realtime_connections_refused_total.
package realtime

import (
	"context"
	"encoding/json"

	"github.com/bamhq/bam/internal/authn"
)

// Change is one record change, as every replica sees it.
type Change struct {
	// Seq is the change's position in the content stream: the same on
	// every replica, so it is the SSE id a client resumes from anywhere.
	// It must increase from one Published change to the next.
	Seq        uint64
	Action     string // created | updated | deleted
	Collection string
	ID         string
	Record     map[string]any // the record after the change (before, for deleted)
	// RecordJSON is Record encoded (a JSON object), when the publisher has
	// it so (the change's event carries it): the hub sends it as it is
	// (compacted if it holds a line break), and decodes Record from it
	// only once a Matcher is to see the change — a replica with no
	// subscriber to the collection never decodes it. Either may be set
	// (an empty RecordJSON counts as unset); when both are, they must
	// agree.
	RecordJSON json.RawMessage
}

// Subscription is what a client asks for: Topic "posts/*" (every record of
// posts) or "posts/{id}", and an optional filter in the expr language.
type Subscription struct {
	Topic  string `json:"topic"`
	Filter string `json:"filter,omitempty"`
}

// Matcher decides whether one subscriber sees one change. It runs in
// memory, outside any lock of the hub, on Publish's goroutine or a
// resuming connection's, so it must be fast, must not block, and must be
// safe for concurrent use; an error or a panic counts as no and is logged.
// The Change is shared by every subscriber: a Matcher must not modify it.
type Matcher func(c *Change) (bool, error)

// Authorizer turns a subscription of a caller (nil: anonymous) into a
// Matcher, or refuses it (unknown collection, bad filter, not allowed).
// A refusal should be an *errs.Error with a code and a safe message: it is
// shown to the client as a 400 naming the subscription. Internal,
// Unavailable and Timeout errors keep their kind.
//
// The Hub checks the topic's record id itself: the Matcher of "posts/42"
// only sees changes of record 42.
type Authorizer interface {
	Subscribe(ctx context.Context, p *authn.Principal, s Subscription) (Matcher, error)
}

// Error codes the Hub answers with (problem+json and WebSocket errors).
const (
	CodeInvalidSubscription  = "content.invalid_subscription"
	CodeTooManySubscriptions = "content.too_many_subscriptions"
	CodeInvalidMessage       = "content.invalid_message"
	CodeNotFound             = "content.not_found"
	CodeUnavailable          = "content.realtime_unavailable"
	CodeTooManyConnections   = "content.too_many_connections"
	CodeEnded                = "content.credential_revoked"
)
