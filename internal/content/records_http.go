package content

import (
	"context"
	"net/http"
	"net/url"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/store"
)

// withCollection runs fn on the committed definition of name. When fn
// finds a table or column missing (another replica changed the schema
// and its event is still on the way) the registry is reloaded and fn runs
// once more on the new definition.
func (s *Service) withCollection(ctx context.Context, name string, fn func(c *schema.Collection) error) error {
	c, err := s.collection(ctx, name)
	if err != nil {
		return err
	}
	err = fn(c)
	if !isSchemaSurprise(err) {
		return err
	}
	s.Log.InfoContext(ctx, "content: schema changed under a request; reloading", "collection", name, "err", err)
	if lerr := s.Registry.Load(ctx); lerr != nil {
		return err
	}
	if c, err = s.collection(ctx, name); err != nil {
		return err
	}
	return fn(c)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, who caller) {
	ctx := r.Context()
	var page records.Page
	var truncated bool
	err := s.withCollection(ctx, r.PathValue("name"), func(c *schema.Collection) error {
		acc, ok := s.access(c, opList, who)
		if !ok {
			return denied(opList)
		}
		q, err := s.listQuery(r, c)
		if err != nil {
			return err
		}
		q.Access = acc
		ex, err := s.parseExpand(c, r.URL.Query().Get("expand"))
		if err != nil {
			return err
		}
		q.Fields, ex.hidden = withRelations(q.Fields, ex)
		if page, err = s.Records.List(ctx, c, q); err != nil {
			return err
		}
		truncated, err = s.expand(ctx, who, ex, page.Items)
		return err
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if truncated {
		w.Header().Set(ExpandTruncatedHeader, "true")
	}
	if page.Items == nil {
		page.Items = []records.Record{}
	}
	_ = httpx.WriteJSON(w, http.StatusOK, page)
}

func (s *Service) handleView(w http.ResponseWriter, r *http.Request, who caller) {
	ctx := r.Context()
	var rec records.Record
	var truncated bool
	err := s.withCollection(ctx, r.PathValue("name"), func(c *schema.Collection) error {
		acc, ok := s.access(c, opView, who)
		if !ok {
			return denied(opView)
		}
		ex, err := s.parseExpand(c, r.URL.Query().Get("expand"))
		if err != nil {
			return err
		}
		if rec, err = s.Records.Get(ctx, s.DB.SQL(), c, r.PathValue("id"), acc); err != nil {
			return err
		}
		truncated, err = s.expand(ctx, who, ex, []records.Record{rec})
		return err
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if truncated {
		w.Header().Set(ExpandTruncatedHeader, "true")
	}
	tag := etag(rec)
	w.Header().Set("ETag", tag) // the record's version, for If-Match on writes
	// An expanded answer also holds the related records, which the tag
	// does not version: it is never "not modified".
	expanded := r.URL.Query().Get("expand") != ""
	if inm := r.Header.Get("If-None-Match"); inm != "" && !expanded && (inm == "*" || containsTag(inm, tag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, rec)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, who caller) {
	ctx := r.Context()
	var input map[string]any
	if err := httpx.DecodeJSONWith(w, r, &input, httpx.DecodeOptions{MaxBytes: s.opts.MaxBodyBytes}); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	name := r.PathValue("name")
	var rec records.Record
	err := s.withCollection(ctx, name, func(c *schema.Collection) error {
		d, err := s.draftCreate(ctx, who, c, input) // before the write transaction: see draftCreate
		if err != nil {
			return err
		}
		return s.writes.do(ctx, func(ctx context.Context, tx *store.Tx) (err error) {
			rec, err = s.writeCreate(ctx, tx, d)
			return err
		})
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", s.location(recordPath(name, idOf(rec))))
	w.Header().Set("ETag", etag(rec))
	_ = httpx.WriteJSON(w, http.StatusCreated, rec)
}

// handleUpdate serves PATCH (the fields given change) and PUT (the
// record is replaced: fields not given become null).
func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request, who caller) {
	ctx := r.Context()
	var input map[string]any
	if err := httpx.DecodeJSONWith(w, r, &input, httpx.DecodeOptions{MaxBytes: s.opts.MaxBodyBytes}); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	mode := schema.Patch
	if r.Method == http.MethodPut {
		mode = schema.Replace
	}
	cond := parseIfMatch(r.Header.Get("If-Match"))
	var rec records.Record
	err := s.withCollection(ctx, r.PathValue("name"), func(c *schema.Collection) error {
		return s.writes.do(ctx, func(ctx context.Context, tx *store.Tx) (err error) {
			rec, err = s.update(ctx, tx, who, c, r.PathValue("id"), input, mode, cond)
			return err
		})
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if rec == nil { // written, but not the caller's to view
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("ETag", etag(rec))
	_ = httpx.WriteJSON(w, http.StatusOK, rec)
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request, who caller) {
	ctx := r.Context()
	cond := parseIfMatch(r.Header.Get("If-Match"))
	err := s.withCollection(ctx, r.PathValue("name"), func(c *schema.Collection) error {
		return s.writes.do(ctx, func(ctx context.Context, tx *store.Tx) error {
			return s.delete(ctx, tx, who, c, r.PathValue("id"), cond)
		})
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// create inserts a record of c from input for who in tx and announces it:
// draftCreate then writeCreate.
func (s *Service) create(ctx context.Context, tx *store.Tx, who caller, c *schema.Collection, input map[string]any) (records.Record, error) {
	d, err := s.draftCreate(ctx, who, c, input)
	if err != nil {
		return nil, err
	}
	return s.writeCreate(ctx, tx, d)
}

// createDraft is a create made ready without the database: the record
// and the event that announces it, encoded. A create load on SQLite is
// bound by its one writer, so what can be done before the write
// transaction is done there, on the request's goroutine, in parallel
// with other requests' transactions.
type createDraft struct {
	access *records.Access // the create rule
	record *records.Draft
	event  outbox.Entry
}

// draftCreate checks that who may create in c and drafts the record of
// input and its record.created event.
func (s *Service) draftCreate(ctx context.Context, who caller, c *schema.Collection, input map[string]any) (*createDraft, error) {
	acc, ok := s.access(c, opCreate, who)
	if !ok {
		return nil, denied(opCreate)
	}
	d, err := s.Records.Draft(c, input, who.owner())
	if err != nil {
		return nil, err
	}
	ev, err := s.recordEntry(ctx, actionCreated, c, d.Record())
	if err != nil {
		return nil, err
	}
	return &createDraft{access: acc, record: d, event: ev}, nil
}

// writeCreate writes a drafted create in tx: the record, then its event.
// It may run again in another transaction when tx rolls back.
func (s *Service) writeCreate(ctx context.Context, tx *store.Tx, d *createDraft) (records.Record, error) {
	rec, err := s.Records.Write(ctx, tx, d.record, d.access)
	if err != nil {
		return nil, err
	}
	return rec, s.Outbox.Add(ctx, tx, d.event)
}

// update changes record id of c for who in tx and announces it. It
// returns the record as changed, or nil when who may not view it.
func (s *Service) update(ctx context.Context, tx *store.Tx, who caller, c *schema.Collection, id string, input map[string]any, mode schema.Mode, cond ifMatch) (records.Record, error) {
	acc, ok := s.access(c, opUpdate, who)
	if !ok {
		return nil, denied(opUpdate)
	}
	v, err := cond.version(ctx, s, tx, c, id, acc)
	if err != nil {
		return nil, err
	}
	_, rec, err := s.Records.Update(ctx, tx, c, id, input, mode, v, acc)
	if err != nil {
		return nil, err
	}
	if err := s.emitRecord(ctx, tx, actionUpdated, c, rec); err != nil {
		return nil, err
	}
	return s.visible(ctx, tx, who, c, rec)
}

// visible returns rec (of c, as written in tx) if who may view it, nil if
// not: the answer to a write shows only what a read would.
func (s *Service) visible(ctx context.Context, tx *store.Tx, who caller, c *schema.Collection, rec records.Record) (records.Record, error) {
	acc, ok := s.access(c, opView, who)
	switch {
	case !ok:
		return nil, nil
	case acc == nil || acc.Rule == nil:
		return rec, nil
	}
	if _, err := s.Records.Get(ctx, tx, c, idOf(rec), acc); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, nil
		}
		return nil, err
	}
	return rec, nil
}

// delete removes record id of c for who in tx and announces what it
// removed and changed (cascades, set-null relations).
func (s *Service) delete(ctx context.Context, tx *store.Tx, who caller, c *schema.Collection, id string, cond ifMatch) error {
	acc, ok := s.access(c, opDelete, who)
	if !ok {
		return denied(opDelete)
	}
	v, err := cond.version(ctx, s, tx, c, id, acc)
	if err != nil {
		return err
	}
	deleted, changed, err := s.Records.Delete(ctx, tx, c, id, v, acc)
	if err != nil {
		return err
	}
	return s.emitDeletes(ctx, tx, deleted, changed)
}

func recordPath(collection, id string) string {
	return "/v1/collections/" + url.PathEscape(collection) + "/records/" + url.PathEscape(id)
}

// containsTag reports whether an If-None-Match list names tag (weak
// comparison: W/ is ignored).
func containsTag(list, tag string) bool {
	for _, t := range splitTags(list) {
		if len(t) > 2 && t[:2] == "W/" {
			t = t[2:]
		}
		if t == tag {
			return true
		}
	}
	return false
}
