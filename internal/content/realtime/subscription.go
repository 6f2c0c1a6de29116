package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

// maxNameBytes bounds a subscription's id and topic.
const maxNameBytes = 256

// sub is an accepted subscription of one connection.
type sub struct {
	name       string
	spec       subSpec
	collection string
	recordID   string // "" for collection/*
	match      Matcher
	nameJSON   []byte // name as a JSON string
	self       []*sub // []*sub{this}: the matched list when only this matches
	// removed is set when the subscription is dropped or replaced by a
	// different one: a change matched before is then not written naming
	// it. A subscription sent again unchanged shares its predecessor's.
	removed *atomic.Bool
}

// parseTopic splits "collection/*" or "collection/<id>".
func parseTopic(topic string) (collection, recordID string, err error) {
	collection, rest, ok := strings.Cut(topic, "/")
	switch {
	case !ok || collection == "" || rest == "":
		return "", "", fmt.Errorf("topic %q must be \"<collection>/*\" or \"<collection>/<id>\"", topic)
	case strings.Contains(rest, "/"):
		return "", "", fmt.Errorf("topic %q has more than one \"/\"", topic)
	case rest == "*":
		return collection, "", nil
	}
	return collection, rest, nil
}

// checkSpec validates a subscription's shape before the Authorizer sees it.
func checkSpec(s subSpec) error {
	switch {
	case len(s.ID) > maxNameBytes || len(s.Topic) > maxNameBytes:
		return fmt.Errorf("the id and topic are at most %d bytes", maxNameBytes)
	case s.Topic == "":
		return fmt.Errorf("the topic is required")
	}
	_, _, err := parseTopic(s.Topic)
	return err
}

// name is the subscription's name: its id, else its topic.
func (s subSpec) name() string {
	if s.ID != "" {
		return s.ID
	}
	return s.Topic
}

// authorize turns specs into subscriptions for p, checking them all; the
// error names the first failing index.
func (h *Hub) authorize(ctx context.Context, p *authn.Principal, specs []subSpec) ([]*sub, error) {
	if len(specs) > h.opts.MaxSubscriptions {
		return nil, errs.E(errs.Invalid, CodeTooManySubscriptions,
			"At most %d subscriptions per connection.", h.opts.MaxSubscriptions).
			WithField("subscriptions", "too_many", fmt.Sprintf("at most %d", h.opts.MaxSubscriptions))
	}
	seen := make(map[string]bool, len(specs))
	subs := make([]*sub, 0, len(specs))
	for i, spec := range specs {
		if seen[spec.name()] {
			return nil, subscriptionError(i, errs.E(errs.Invalid, CodeInvalidSubscription,
				"The name %q is used twice: give the subscriptions distinct ids.", spec.name()))
		}
		seen[spec.name()] = true
		s, err := h.authorizeOne(ctx, p, spec)
		if err != nil {
			return nil, subscriptionError(i, err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// authorizeOne asks the Authorizer for one subscription.
func (h *Hub) authorizeOne(ctx context.Context, p *authn.Principal, spec subSpec) (*sub, error) {
	if err := checkSpec(spec); err != nil {
		return nil, errs.E(errs.Invalid, CodeInvalidSubscription, "%s", err.Error())
	}
	if h.opts.Authorizer == nil {
		return nil, errs.E(errs.Forbidden, CodeInvalidSubscription, "Realtime subscriptions are not enabled.")
	}
	m, err := h.opts.Authorizer.Subscribe(ctx, p, Subscription{Topic: spec.Topic, Filter: spec.Filter})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errs.E(errs.Internal, "", "realtime: the authorizer returned no matcher for %q", spec.Topic)
	}
	collection, recordID, _ := parseTopic(spec.Topic)
	s := &sub{name: spec.name(), spec: spec, collection: collection, recordID: recordID, match: m,
		removed: new(atomic.Bool)}
	s.nameJSON = appendJSONString(nil, s.name)
	s.self = []*sub{s}
	return s, nil
}

// refused makes an Authorizer's refusal a 400 with its code (or
// CodeInvalidSubscription). Errors that are not the client's doing keep
// their kind.
func refused(err error) error {
	switch errs.KindOf(err) {
	case errs.Internal, errs.Unavailable, errs.Timeout, errs.Canceled:
		return err
	}
	code := errs.CodeOf(err)
	if code == "" {
		code = CodeInvalidSubscription
	}
	out := &errs.Error{Kind: errs.Invalid, Code: code, Message: err.Error(), Err: err}
	if e := errs.As(err); e != nil {
		out.Message, out.Fields = e.Message, e.Fields
	}
	return out
}

// subscriptionError makes a refusal of subscription i a 400 that names it
// in its message and as the field "subscriptions.<i>".
func subscriptionError(i int, err error) error {
	err = refused(err)
	e := errs.As(err)
	if e == nil || e.Kind != errs.Invalid {
		return err
	}
	field := fmt.Sprintf("subscriptions.%d", i)
	out := &errs.Error{Kind: errs.Invalid, Code: e.Code, Err: err,
		Message: fmt.Sprintf("Subscription %d: %s", i, e.Message)}
	if out.Code == "" {
		out.Code = CodeInvalidSubscription
	}
	out.WithField(field, out.Code, e.Message)
	for _, f := range e.Fields {
		out.WithField(field+"."+f.Field, f.Code, f.Message)
	}
	return out
}

// specsFromQuery reads the initial subscriptions: subscribe=<topic>
// (repeatable) then subscriptions=<JSON array>.
func specsFromQuery(q url.Values) ([]subSpec, error) {
	var specs []subSpec
	for _, t := range q["subscribe"] {
		specs = append(specs, subSpec{Topic: t})
	}
	for _, raw := range q["subscriptions"] {
		var more []subSpec
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&more); err != nil || dec.More() {
			return nil, errs.E(errs.Invalid, CodeInvalidSubscription,
				"The subscriptions parameter must be a JSON array of {\"topic\", \"filter\", \"id\"}.").
				WithField("subscriptions", "invalid_json", "not a JSON array of subscriptions")
		}
		specs = append(specs, more...)
	}
	return specs, nil
}
