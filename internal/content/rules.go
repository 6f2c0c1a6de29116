package content

import (
	"log/slog"
	"sync"

	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
)

// Operations a rule governs.
type op int

const (
	opList op = iota
	opView
	opCreate
	opUpdate
	opDelete
)

var opNames = [...]string{"list", "view", "create", "update", "delete"}

// rule is one compiled access rule. adminsOnly is a null rule (or one that
// no longer compiles: a broken rule fails closed); otherwise node is the
// parsed, checked expression (nil: everyone).
type rule struct {
	adminsOnly bool
	node       expr.Node
}

// compiledRules are a collection's rules at one version.
type compiledRules struct {
	version int64
	id      string
	ops     [5]rule
}

// ruleCache compiles each collection's rules once per version.
type ruleCache struct {
	reg *schema.Registry
	log *slog.Logger
	mu  sync.Mutex
	m   map[string]*compiledRules
}

func newRuleCache(reg *schema.Registry, log *slog.Logger) *ruleCache {
	return &ruleCache{reg: reg, log: log, m: map[string]*compiledRules{}}
}

// get returns the rule of o for c, compiling c's rules when c is a version
// not seen before.
func (rc *ruleCache) get(c *schema.Collection, o op) rule {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	cr := rc.m[c.Name]
	if cr == nil || cr.version != c.Version || cr.id != c.ID {
		cr = rc.compile(c)
		rc.m[c.Name] = cr
	}
	return cr.ops[o]
}

func (rc *ruleCache) compile(c *schema.Collection) *compiledRules {
	cr := &compiledRules{version: c.Version, id: c.ID}
	srcs := [...]*string{c.Rules.List, c.Rules.View, c.Rules.Create, c.Rules.Update, c.Rules.Delete}
	for i, src := range srcs {
		if src == nil {
			cr.ops[i] = rule{adminsOnly: true}
			continue
		}
		n, err := expr.Parse(*src)
		if err == nil {
			err = expr.Check(n, rc.reg, c.Name)
		}
		if err != nil {
			rc.log.Error("content: a rule does not compile; only admins pass it", "collection", c.Name,
				"rule", opNames[i], "version", c.Version, "err", err)
			cr.ops[i] = rule{adminsOnly: true}
			continue
		}
		cr.ops[i] = rule{node: n}
	}
	return cr
}

// caller is who is asking, as rules see them.
type caller struct {
	p     *authn.Principal // nil: anonymous
	auth  expr.Auth
	admin bool
}

func callerOf(p *authn.Principal) caller {
	return caller{p: p, auth: authOf(p), admin: p.HasPermission(AdminPermission)}
}

// owner is the id owner fields get on create: the caller's subject.
func (c caller) owner() string {
	if c.p == nil {
		return ""
	}
	return c.p.Subject
}

// authOf is what @request.auth refers to for p; the empty Auth for an
// anonymous caller.
func authOf(p *authn.Principal) expr.Auth {
	if p == nil {
		return expr.Auth{}
	}
	a := expr.Auth{"id": p.Subject, "roles": anySlice(p.Roles), "permissions": anySlice(p.Permissions),
		"verified": p.EmailVerified, "kind": string(p.Kind)}
	if p.Email != "" {
		a["email"] = p.Email
	}
	return a
}

func anySlice(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// access is what an operation of c may touch for the caller: for an
// admin no rule (everything) but their identity, which their filters'
// @request.auth.* read as realtime's do; the rule otherwise; ok is false
// when only admins may do it.
func (s *Service) access(c *schema.Collection, o op, who caller) (a *records.Access, ok bool) {
	if who.admin {
		return &records.Access{Auth: who.auth}, true
	}
	r := s.rules.get(c, o)
	if r.adminsOnly {
		return nil, false
	}
	return &records.Access{Rule: r.node, Auth: who.auth, Views: s.viewRule}, true
}

// viewRule is the view rule of collection for a caller who is not an
// admin (records.Access.Views): what filters may read through relations,
// and which records relation ids may name. An unknown collection, or a
// null rule, shows nothing.
func (s *Service) viewRule(collection string) (expr.Node, bool) {
	c, ok := s.Registry.Get(collection)
	if !ok {
		return nil, false
	}
	r := s.rules.get(c, opView)
	if r.adminsOnly {
		return nil, false
	}
	return r.node, true
}

// denied is the answer to an operation only admins may do: 403 for list
// and create, which name no record; 404 for the others, so that the
// existence of a record does not leak.
func denied(o op) error {
	switch o {
	case opList, opCreate:
		return errForbidden(opNames[o])
	}
	return errNotFound()
}
