package gateway

import (
	"cmp"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// The /docs page: the merged document rendered on the server as plain
// HTML, operations grouped by tag with their parameters, request bodies
// and responses. Self-contained (no scripts, no CDN) so it works offline
// and behind strict content security policies.

type pageOp struct {
	Method, Path, ID, Summary, Description string
	Deprecated, Public                     bool
	Params                                 []pageParam
	Body                                   []string // "application/json: SignUpRequest"
	Responses                              []pageResponse
}

type pageParam struct {
	Name, In, Type, Description string
	Required                    bool
}
type pageResponse struct{ Code, Description string }

type pageTag struct {
	Name, Description string
	Ops               []pageOp
}

// pageOf turns doc into tag groups in the document's tag order.
func pageOf(doc map[string]any) []pageTag {
	var groups []pageTag
	index := map[string]int{}
	group := func(name string) *pageTag {
		if i, ok := index[name]; ok {
			return &groups[i]
		}
		index[name] = len(groups)
		groups = append(groups, pageTag{Name: name})
		return &groups[len(groups)-1]
	}
	for _, t := range asSlice(doc["tags"]) {
		name, _ := asMap(t)["name"].(string)
		desc, _ := asMap(t)["description"].(string)
		group(name).Description = desc
	}
	comps := asMap(doc["components"])
	paths := asMap(doc["paths"])
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item := asMap(paths[path])
		for _, method := range operations {
			op := asMap(item[method])
			if op == nil {
				continue
			}
			o := pageOp{Method: strings.ToUpper(method), Path: path, ID: str(op["operationId"]),
				Summary: str(op["summary"]), Description: str(op["description"])}
			o.Deprecated, _ = op["deprecated"].(bool)
			if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
				o.Public = true
			}
			for _, p := range append(asSlice(item["parameters"]), asSlice(op["parameters"])...) {
				p = resolve(comps, p)
				pm := asMap(p)
				req, _ := pm["required"].(bool)
				o.Params = append(o.Params, pageParam{Name: str(pm["name"]), In: str(pm["in"]),
					Type: schemaName(pm["schema"]), Description: str(pm["description"]), Required: req})
			}
			body := asMap(resolve(comps, op["requestBody"]))
			for _, ct := range slices.Sorted(maps.Keys(asMap(body["content"]))) {
				o.Body = append(o.Body, ct+": "+schemaName(asMap(asMap(body["content"])[ct])["schema"]))
			}
			resps := asMap(op["responses"])
			for _, code := range slices.Sorted(maps.Keys(resps)) {
				o.Responses = append(o.Responses, pageResponse{Code: code, Description: str(asMap(resolve(comps, resps[code]))["description"])})
			}
			tag := "other"
			if ts := asSlice(op["tags"]); len(ts) > 0 {
				tag = cmp.Or(str(ts[0]), tag)
			}
			g := group(tag)
			g.Ops = append(g.Ops, o)
		}
	}
	return slices.DeleteFunc(groups, func(g pageTag) bool { return len(g.Ops) == 0 })
}

// resolve follows a local $ref ("#/components/responses/NotFound").
func resolve(comps map[string]any, v any) any {
	for range 5 {
		ref, _ := asMap(v)["$ref"].(string)
		rest, ok := strings.CutPrefix(ref, "#/components/")
		if !ok {
			return v
		}
		kind, name, _ := strings.Cut(rest, "/")
		v = asMap(comps[kind])[name]
	}
	return v
}

// schemaName is a short name for a schema: its component's name, its type.
func schemaName(v any) string {
	s := asMap(v)
	if ref, ok := s["$ref"].(string); ok {
		return ref[strings.LastIndex(ref, "/")+1:]
	}
	switch t := s["type"].(type) {
	case string:
		if t == "array" {
			return schemaName(s["items"]) + "[]"
		}
		return t
	case []any:
		var parts []string
		for _, p := range t {
			parts = append(parts, str(p))
		}
		return strings.Join(parts, " | ")
	}
	if _, ok := s["oneOf"]; ok {
		return "one of several shapes"
	}
	return "any"
}

func str(v any) string { s, _ := v.(string); return s }

func (d *Docs) servePage(w http.ResponseWriter, doc map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	info := asMap(doc["info"])
	_ = pageTemplate.Execute(w, map[string]any{
		"Title": str(info["title"]), "Description": str(info["description"]), "Tags": pageOf(doc),
	})
}

var pageTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2330;color:#fff;padding:1.2rem 2rem}header p{margin:.3rem 0 0;opacity:.8}
header a{color:#9cc3ff}
nav{padding:.6rem 2rem;background:#eef1f5;font-size:14px}nav a{margin-right:1rem;color:#1d4ed8}
main{padding:0 2rem 3rem;max-width:70rem}
h2{margin-top:2rem;border-bottom:1px solid #d5dae1;padding-bottom:.3rem}
details{background:#fff;border:1px solid #d5dae1;border-radius:6px;margin:.4rem 0}
summary{cursor:pointer;padding:.45rem .7rem;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.5rem;font-weight:700}
.GET{color:#047857}.POST{color:#1d4ed8}.PUT,.PATCH{color:#b45309}.DELETE{color:#b91c1c}
.dep{text-decoration:line-through}.tag{font-family:system-ui;font-size:12px;color:#596273;margin-left:.6rem}
.op{padding:.2rem 1rem 1rem}.op pre{white-space:pre-wrap;font:inherit}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #e2e6eb;padding:.2rem .5rem;text-align:left;vertical-align:top}
code{font-family:ui-monospace,monospace}
</style></head><body>
<header><h1>{{.Title}}</h1><p>{{.Description}}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1)</p></header>
<nav>{{range .Tags}}<a href="#tag-{{.Name}}">{{.Name}}</a>{{end}}</nav>
<main>
{{range .Tags}}<section id="tag-{{.Name}}"><h2>{{.Name}}</h2>{{with .Description}}<p>{{.}}</p>{{end}}
{{range .Ops}}<details><summary><span class="m {{.Method}}">{{.Method}}</span><span{{if .Deprecated}} class="dep"{{end}}>{{.Path}}</span><span class="tag">{{.Summary}}{{if .Public}} · no auth{{end}}{{if .Deprecated}} · deprecated{{end}}</span></summary>
<div class="op">{{with .Description}}<pre>{{.}}</pre>{{end}}
{{with .Params}}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>
{{range .}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{with .Body}}<h4>Request body</h4><ul>{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{with .Responses}}<h4>Responses</h4><table>{{range .}}<tr><td><code>{{.Code}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
</div></details>
{{end}}</section>
{{end}}</main></body></html>
`))
