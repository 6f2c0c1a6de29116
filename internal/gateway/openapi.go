package gateway

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// OpenAPI describes the gateway's own endpoints (/openapi.json, /docs) and
// the answers it gives on every route (OpenAPI 3.1, YAML). A test holds it
// to what Docs and the gateway serve.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPIJSON is OpenAPI as JSON, converted once. A mapping with
// non-string keys (an unquoted status code) would not encode: the round
// trip catches it.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("gateway: openapi.yaml: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("gateway: openapi.yaml as JSON: %w", err)
	}
	return b, nil
})

// OwnDocSource is the gateway's own document as a DocSource, so that Docs
// merges it into /openapi.json beside the services' documents. Put it
// last: the merged document takes its servers from the first source.
func OwnDocSource() DocSource {
	return DocSource{Name: "gateway", Path: "/openapi.json", Transport: ownDoc{}}
}

// ownDoc answers every request with the gateway's document as JSON.
type ownDoc struct{}

func (ownDoc) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := openAPIJSON()
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(b)),
		ContentLength: int64(len(b)),
		Request:       r,
	}, nil
}
