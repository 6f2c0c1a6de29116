package content

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// CollectionsFile is the shape of content.collections_file, in YAML or
// JSON: a list of collection definitions as POST /v1/collections takes
// them, either bare or under "collections".
type CollectionsFile struct {
	Collections []schema.Collection `json:"collections"`
}

// ReadCollectionsFile reads and decodes a collections file (strictly:
// unknown keys are errors that name the file).
func ReadCollectionsFile(path string) ([]schema.Collection, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("content.collections_file: %w", err)
	}
	defs, err := parseCollections(raw)
	if err != nil {
		return nil, fmt.Errorf("content.collections_file %s: %w", path, err)
	}
	return defs, nil
}

// parseCollections decodes YAML (of which JSON is a subset) through JSON,
// so the definitions' json tags and strictness apply to both.
func parseCollections(raw []byte) ([]schema.Collection, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	strict := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	var file CollectionsFile
	switch doc.(type) {
	case []any:
		err = strict(&file.Collections)
	case map[string]any:
		err = strict(&file)
	case nil:
		return nil, nil
	default:
		err = errors.New("want a list of collections, or an object with a collections list")
	}
	return file.Collections, err
}

// ApplyResult says what ApplyCollections did.
type ApplyResult struct {
	Created, Updated, Unchanged []string
}

// errUnchanged rolls back an update that would change nothing.
var errUnchanged = errors.New("content: definition unchanged")

// ApplyCollections makes the registry hold defs: missing collections are
// created, changed ones updated (fields matched by name), and nothing is
// dropped: collections not in defs stay, and so do fields of a collection
// that defs leave out (drop those through the API, on purpose). Applying
// the same definitions again changes nothing, and replicas applying them
// at once agree. Definitions may refer to each other in any order.
func (s *Service) ApplyCollections(ctx context.Context, defs []schema.Collection) (ApplyResult, error) {
	var res ApplyResult
	pending := defs
	for len(pending) > 0 {
		var next []schema.Collection
		var failed []error
		for _, d := range pending {
			what, err := s.applyOne(ctx, d)
			if err != nil {
				next = append(next, d)
				failed = append(failed, fmt.Errorf("collection %q: %w", d.Name, err))
				continue
			}
			switch what {
			case "created":
				res.Created = append(res.Created, d.Name)
			case "updated":
				res.Updated = append(res.Updated, d.Name)
			default:
				res.Unchanged = append(res.Unchanged, d.Name)
			}
		}
		if len(next) == len(pending) { // no progress: the errors are real
			return res, errors.Join(failed...)
		}
		pending = next // a definition may have waited for a relation target
	}
	return res, nil
}

func (s *Service) applyOne(ctx context.Context, d schema.Collection) (string, error) {
	cur, ok := s.Registry.Get(d.Name)
	if !ok {
		_, err := s.CreateCollection(ctx, d)
		if errs.CodeOf(err) != "content.collection_exists" {
			return "created", err
		}
		// Another replica created it a moment ago.
		if err := s.Registry.Load(ctx); err != nil {
			return "", err
		}
		if cur, ok = s.Registry.Get(d.Name); !ok {
			return "", err
		}
	}
	want := s.keepFields(cur, d)
	if err := checkFieldNames(want, cur); err != nil {
		return "", err
	}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		got, err := s.Registry.Update(ctx, tx, d.Name, want)
		if err != nil {
			return err
		}
		if sameDefinition(cur, got) {
			return errUnchanged
		}
		return s.emitCollection(ctx, tx, "updated", got.Name, got.Version)
	})
	switch {
	case errors.Is(err, errUnchanged):
		return "unchanged", nil
	case err != nil:
		return "", err
	}
	return "updated", nil
}

// keepFields is d with cur's field ids (fields are matched by name) and
// with cur's fields that d leaves out appended: the file never drops data.
func (s *Service) keepFields(cur *schema.Collection, d schema.Collection) schema.Collection {
	byName := map[string]schema.Field{}
	for _, f := range cur.Fields {
		byName[f.Name] = f
	}
	fields := make([]schema.Field, 0, len(cur.Fields))
	seen := map[string]bool{}
	for _, f := range d.Fields {
		if old, ok := byName[f.Name]; ok {
			f.ID = old.ID
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	for _, f := range cur.Fields {
		if !seen[f.Name] {
			s.Log.Warn("content: a field is missing from the collections file; kept (drop it through the API)",
				"collection", cur.Name, "field", f.Name)
			fields = append(fields, f)
		}
	}
	d.Fields = fields
	d.ID = cur.ID
	return d
}

// sameDefinition compares what a definition says, not its bookkeeping
// (version, times).
func sameDefinition(a, b *schema.Collection) bool {
	strip := func(c *schema.Collection) []byte {
		x := *c
		x.Version, x.Created, x.Updated = 0, "", ""
		raw, _ := json.Marshal(x)
		return raw
	}
	return bytes.Equal(strip(a), strip(b))
}
