package content

import (
	"context"
	"errors"
	"strings"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/errs"
)

// maxFilterCost bounds the comparisons of a subscription's filter
// (expr.Cost): it is evaluated for every change of its collection.
const maxFilterCost = 16

// subscriber is the realtime.Authorizer of the service: a subscription
// must name an existing collection ("posts/*" or "posts/{id}") and a
// filter that checks against it. Its Matcher admits a change when the
// collection's rule, as it is at that moment, and the filter both hold for
// the record, evaluated in memory: no database read per subscriber. The
// rule is the list rule for "posts/*", as a list of the collection would
// apply, and the view rule for "posts/{id}".
type subscriber struct{ s *Service }

var _ realtime.Authorizer = subscriber{}

// Subscribe implements realtime.Authorizer.
func (a subscriber) Subscribe(ctx context.Context, p *authn.Principal, sub realtime.Subscription) (realtime.Matcher, error) {
	s := a.s
	name, id, ok := strings.Cut(sub.Topic, "/")
	if !ok || name == "" || id == "" || strings.Contains(id, "/") {
		return nil, invalid(CodeInvalidRequest, "topic", "a topic is COLLECTION/* or COLLECTION/ID, not %q", sub.Topic)
	}
	c, err := s.collection(ctx, name)
	if err != nil {
		return nil, err
	}
	m := &matcherState{s: s, collection: name, id: id, o: opView, who: callerOf(p)}
	if id == "*" {
		m.o = opList
	}
	if !m.who.admin && s.rules.get(c, m.o).adminsOnly {
		return nil, errs.E(errs.Forbidden, CodeForbidden, "Only administrators may watch %s.", sub.Topic)
	}
	if m.filter, err = s.parseFilter(c, sub.Filter); err != nil {
		return nil, err
	}
	if n := expr.Cost(m.filter); n > maxFilterCost {
		return nil, invalid(realtime.CodeInvalidSubscription, "filter",
			"the filter makes %d comparisons; a subscription's may make at most %d", n, maxFilterCost)
	}
	s.filterPaths.add(name, m.filter, m)
	return m.match, nil
}

// matcherState is one subscription as its Matcher sees it.
type matcherState struct {
	s          *Service
	collection string
	id         string // "*" or a record id
	o          op     // the rule that applies: list for "*", view for an id
	who        caller
	filter     expr.Node // nil: none
}

// errRelationsUnknown fails a match whose rule or filter follows a
// relation the change's preloaded data does not hold (its read failed, or
// the change is older than the data kept): no match, rather than a guess.
var errRelationsUnknown = errors.New("content: related records of the change are not available")

func (m *matcherState) match(ch *realtime.Change) (bool, error) {
	if ch.Collection != m.collection || (m.id != "*" && ch.ID != m.id) {
		return false, nil
	}
	if ch.Record == nil {
		// A deleted record whose event carries no data (a sensitive
		// collection, a large record): nothing to check a rule
		// against, so administrators only.
		return m.who.admin, nil
	}
	data := m.s.relCache.get(ch.Seq)
	if !m.who.admin {
		cur, ok := m.s.Registry.Get(m.collection)
		if !ok {
			return false, nil
		}
		r := m.s.rules.get(cur, m.o)
		if r.adminsOnly {
			return false, nil
		}
		if r.node != nil {
			// Rules are trusted: their relations read every record.
			if ok, err := m.s.eval(r.node, data, m.collection, ch.Record, nil, m.who.auth); err != nil || !ok {
				return false, err
			}
		}
	}
	if m.filter == nil {
		return true, nil
	}
	var guard *caller // the filter reads through relations only what the caller may view
	if !m.who.admin {
		guard = &m.who
	}
	return m.s.eval(m.filter, data, m.collection, ch.Record, guard, m.who.auth)
}

// eval evaluates n over rec, a record of collection in a change with
// relation data d; guard, when set, is the caller whose view rules limit
// the related records n reads.
func (s *Service) eval(n expr.Node, d *changeData, collection string, rec map[string]any, guard *caller, auth expr.Auth) (bool, error) {
	var unknown bool
	r := &evalRecord{s: s, data: d, collection: collection, rec: rec, guard: guard, unknown: &unknown}
	ok, err := expr.Eval(n, r, auth)
	if err == nil && unknown {
		return false, errRelationsUnknown
	}
	return ok, err
}
