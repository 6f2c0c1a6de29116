package platform

import (
	"context"
	"net/http"

	"github.com/bamhq/bam/internal/gateway"
)

// gatewayDocs serves the gateway's /docs and /openapi.json: every service
// it reaches serves its own document at its first route prefix plus
// "openapi.json" (/v1/auth/openapi.json); a service without one is left
// out. The gateway's own document (its edge answers) comes first. The documents are fetched again after a reload.
func (p *Platform) gatewayDocs(gw *gateway.Gateway, upstreams map[string]http.RoundTripper) *gateway.Docs {
	d := &gateway.Docs{Gateway: gw, Log: p.Log, Sources: []gateway.DocSource{gateway.OwnDocSource()}}
	for _, s := range p.specs {
		if rt, ok := upstreams[s.Name]; ok && len(s.Routes) > 0 {
			d.Sources = append(d.Sources, gateway.DocSource{Name: s.Name, Path: s.Routes[0] + "openapi.json", Transport: rt})
		}
	}
	p.OnReload(func(context.Context) error { d.Invalidate(); return nil })
	return d
}
