package content

import (
	"context"
	"strings"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/realtime"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
)

// subscriber is the realtime.Authorizer of the service: a subscription
// must name an existing collection ("posts/*" or "posts/{id}") and a
// filter that checks against it. Its Matcher admits a change when the
// collection's view rule, as it is at that moment, and the filter both
// hold for the record, evaluated in memory: no database read per
// subscriber.
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
	who := callerOf(p)
	if !who.admin && s.rules.get(c, opView).adminsOnly {
		return nil, errs.E(errs.Forbidden, CodeForbidden, "Only administrators may watch %s.", name)
	}
	filter, err := s.parseFilter(c, sub.Filter)
	if err != nil {
		return nil, err
	}
	return func(ch *realtime.Change) (bool, error) {
		if ch.Collection != name || (id != "*" && ch.ID != id) {
			return false, nil
		}
		if ch.Record == nil {
			// A deleted record of a sensitive collection: nothing to
			// check a rule against, so administrators only.
			return who.admin, nil
		}
		rec := s.changeRecord(ch)
		if !who.admin {
			cur, ok := s.Registry.Get(name)
			if !ok {
				return false, nil
			}
			view := s.rules.get(cur, opView)
			if view.adminsOnly {
				return false, nil
			}
			if view.node != nil {
				if ok, err := expr.Eval(view.node, rec, who.auth); err != nil || !ok {
					return false, err
				}
			}
		}
		if filter == nil {
			return true, nil
		}
		return expr.Eval(filter, rec, who.auth)
	}, nil
}

// changeRecord is ch's record as expr.Eval reads it, with relation paths
// resolved through data shared by every subscriber of the change.
func (s *Service) changeRecord(ch *realtime.Change) expr.Record {
	return &evalRecord{s: s, data: s.relCache.get(ch.Seq), collection: ch.Collection, rec: ch.Record}
}

// evalRecord implements expr.Record over a record of a change: a path
// that passes relations reads the related records through the change's
// shared relation data.
type evalRecord struct {
	s          *Service
	data       *changeData
	collection string
	prefix     string // the relation path leading here, "" at the top
	rec        map[string]any
}

func (r *evalRecord) Value(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	v, ok := r.rec[path[0]]
	if len(path) == 1 {
		return v, ok
	}
	c, ok := r.s.Registry.Get(r.collection)
	if !ok {
		return nil, false
	}
	f, ok := relationField(c, path[0])
	if !ok {
		return nil, false
	}
	prefix := path[0]
	if r.prefix != "" {
		prefix = r.prefix + "." + path[0]
	}
	related := r.data.related(r.s, prefix, f, relationIDs(v))
	if !f.Multi {
		for _, rel := range related {
			sub := &evalRecord{s: r.s, data: r.data, collection: f.Collection, prefix: prefix, rec: rel}
			return sub.Value(path[1:])
		}
		return nil, true // no related record: null
	}
	var out []any
	for _, rel := range related {
		sub := &evalRecord{s: r.s, data: r.data, collection: f.Collection, prefix: prefix, rec: rel}
		if v, ok := sub.Value(path[1:]); ok {
			if l, isList := v.([]any); isList {
				out = append(out, l...)
			} else {
				out = append(out, v)
			}
		}
	}
	return out, true
}

// relationTarget is the collection a relation field points at.
func (s *Service) relationTarget(f schema.Field) (*schema.Collection, bool) {
	return s.Registry.Get(f.Collection)
}
