package content

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// CreateCollection creates a collection and announces it, in one
// transaction.
func (s *Service) CreateCollection(ctx context.Context, def schema.Collection) (*schema.Collection, error) {
	if err := checkFieldNames(def, nil); err != nil {
		return nil, err
	}
	var out *schema.Collection
	err := s.DB.InTx(ctx, func(tx *store.Tx) (err error) {
		if out, err = s.Registry.Create(ctx, tx, def); err != nil {
			return err
		}
		return s.emitCollection(ctx, tx, "created", out.Name, out.Version)
	})
	return out, err
}

// UpdateCollection migrates collection name to def and announces it, in
// one transaction.
func (s *Service) UpdateCollection(ctx context.Context, name string, def schema.Collection) (*schema.Collection, error) {
	cur, _ := s.Registry.Get(name)
	if err := checkFieldNames(def, cur); err != nil {
		return nil, err
	}
	var out *schema.Collection
	err := s.DB.InTx(ctx, func(tx *store.Tx) (err error) {
		if out, err = s.Registry.Update(ctx, tx, name, def); err != nil {
			return err
		}
		return s.emitCollection(ctx, tx, "updated", out.Name, out.Version)
	})
	return out, collectionErr(name, err)
}

// DeleteCollection drops collection name and its records and announces
// it, in one transaction.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	c, err := s.collection(ctx, name)
	if err != nil {
		return err
	}
	return collectionErr(name, s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.Registry.Delete(ctx, tx, name); err != nil {
			return err
		}
		return s.emitCollection(ctx, tx, "deleted", name, c.Version)
	}))
}

func hasField(c *schema.Collection, name string) bool {
	if c == nil {
		return false
	}
	for _, f := range c.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// collectionErr is err of a change to collection name, with the
// registry's answer for a missing collection (content.not_found) made the
// service's (content.collection_not_found), as every endpoint gives it.
func collectionErr(name string, err error) error {
	if errs.KindOf(err) == errs.NotFound && errs.CodeOf(err) == schema.CodeNotFound {
		return errNoCollection(name)
	}
	return err
}

// reservedFieldNames are names a field may not have although the schema
// allows them: the keys the service adds to a record in its answers.
var reservedFieldNames = []string{"expand"}

// checkFieldNames refuses a definition with a field named like a key
// answers add to records (a field error, content.validation_failed),
// unless cur, the definition it replaces (nil for none), has it already
// (made before the name was reserved: it may stay while it is renamed).
func checkFieldNames(def schema.Collection, cur *schema.Collection) error {
	var fields []errs.FieldError
	for i, f := range def.Fields {
		if slices.Contains(reservedFieldNames, f.Name) && !hasField(cur, f.Name) {
			fields = append(fields, errs.FieldError{Field: fmt.Sprintf("fields[%d].name", i), Code: "reserved",
				Message: fmt.Sprintf("%q is where answers put related records (expand=); choose another name", f.Name)})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &errs.Error{Kind: errs.Invalid, Code: records.CodeValidation, Message: "invalid collection", Fields: fields}
}

func (s *Service) handleListCollections(w http.ResponseWriter, r *http.Request, _ caller) {
	s.refreshSometimes(r.Context())
	items := s.Registry.All()
	if items == nil {
		items = []*schema.Collection{}
	}
	_ = httpx.WriteJSON(w, http.StatusOK, httpx.List[*schema.Collection]{Items: items})
}

func (s *Service) handleCreateCollection(w http.ResponseWriter, r *http.Request, _ caller) {
	var def schema.Collection
	if err := httpx.DecodeJSONWith(w, r, &def, httpx.DecodeOptions{MaxBytes: s.opts.MaxBodyBytes}); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := s.CreateCollection(r.Context(), def)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", s.location("/v1/collections/"+c.Name))
	_ = httpx.WriteJSON(w, http.StatusCreated, c)
}

func (s *Service) handleGetCollection(w http.ResponseWriter, r *http.Request, _ caller) {
	c, err := s.collection(r.Context(), r.PathValue("name"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, c)
}

// handleUpdateCollection applies a JSON merge patch (RFC 7396) to the
// definition: members given replace the current ones, objects (rules)
// merge member by member, null removes (a rule set to null is admins
// only), arrays (fields, indexes) are replaced whole. Fields keep their
// id, so a field sent with its id and a new name is renamed. A patch that
// includes "version" applies only to that version (412 otherwise).
func (s *Service) handleUpdateCollection(w http.ResponseWriter, r *http.Request, _ caller) {
	name := r.PathValue("name")
	var patch map[string]any
	if err := httpx.DecodeJSONWith(w, r, &patch, httpx.DecodeOptions{MaxBytes: s.opts.MaxBodyBytes}); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// The patch applies to the committed definition, not to what this
	// replica last heard of.
	if _, err := s.Registry.Refresh(r.Context()); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	cur, err := s.collection(r.Context(), name)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	def, err := patchCollection(cur, patch)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if _, conditional := patch["version"]; !conditional {
		def.Version = 0 // not "the version this replica last saw", which may lag
	}
	c, err := s.UpdateCollection(r.Context(), name, def)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, c)
}

func (s *Service) handleDeleteCollection(w http.ResponseWriter, r *http.Request, _ caller) {
	if err := s.DeleteCollection(r.Context(), r.PathValue("name")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patchCollection merges patch into cur and decodes the result strictly.
func patchCollection(cur *schema.Collection, patch map[string]any) (schema.Collection, error) {
	raw, err := json.Marshal(cur)
	if err != nil {
		return schema.Collection{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return schema.Collection{}, err
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return schema.Collection{}, err
	}
	var def schema.Collection
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return schema.Collection{}, errs.Wrap(err, errs.Invalid, CodeInvalidRequest,
			"The patched collection is not a valid definition: "+err.Error())
	}
	return def, nil
}

// mergePatch applies an RFC 7396 merge patch to target.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}
