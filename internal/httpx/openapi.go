package httpx

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/bamhq/bam/internal/errs"
)

// OpenAPIDoc is a service's API description (OpenAPI, YAML, usually
// embedded), decoded once on first use and served as JSON.
type OpenAPIDoc struct {
	decoded func() (map[string]any, error)
}

// NewOpenAPIDoc returns raw as a servable document; service names it in
// errors. A mapping with non-string keys (an unquoted status code) would
// not encode as JSON: the round trip on decoding catches it, as an error
// the first request gets.
func NewOpenAPIDoc(service string, raw []byte) *OpenAPIDoc {
	return &OpenAPIDoc{decoded: sync.OnceValues(func() (map[string]any, error) {
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: openapi.yaml: %w", service, err)
		}
		if _, err := json.Marshal(doc); err != nil {
			return nil, fmt.Errorf("%s: openapi.yaml as JSON: %w", service, err)
		}
		return doc, nil
	})}
}

// Serve writes the document as JSON, with serverURL (trailing slashes
// trimmed) as its only server; "" keeps the servers it documents.
func (d *OpenAPIDoc) Serve(w http.ResponseWriter, r *http.Request, serverURL string) {
	doc, err := d.decoded()
	if err != nil {
		WriteError(w, r, errs.Wrap(err, errs.Internal, "", ""))
		return
	}
	out := doc
	if serverURL != "" {
		out = maps.Clone(doc)
		out["servers"] = []map[string]string{{"url": strings.TrimRight(serverURL, "/")}}
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = WriteJSON(w, http.StatusOK, out)
}
