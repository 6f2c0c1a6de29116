package e2e_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestContent walks the content service through the real binary's
// gateway as docs/content.md does: the generated administrator signs in
// and creates a collection, a user signs up and writes records, a filter
// lists what it should, a Server-Sent Events client sees a change live,
// and `bam content export` reads the collection from the same data
// directory while bam runs.
func TestContent(t *testing.T) {
	p := start(t, nil)
	gw := p.gatewayURL()
	email, pw := generatedAdmin(t, p)
	admin := signIn(t, gw, email, pw).str("access_token")

	call(t, "POST", gw+"/v1/collections", map[string]any{
		"name": "posts",
		"fields": []any{
			map[string]any{"name": "title", "type": "text", "required": true, "searchable": true},
			map[string]any{"name": "views", "type": "number", "integer": true},
			map[string]any{"name": "published", "type": "bool"},
			map[string]any{"name": "author", "type": "owner"},
		},
		"indexes": []any{[]any{"published", "views"}},
		"rules": map[string]any{
			"list": "published = true || author = @request.auth.id", "view": "published = true || author = @request.auth.id",
			"create": "@request.auth.id != null", "update": "author = @request.auth.id", "delete": "author = @request.auth.id"},
	}, admin).expect(t, 201)

	const userEmail, userPW = "writer@example.com", "correct horse battery staple"
	call(t, "POST", gw+"/v1/auth/signup", map[string]any{"email": userEmail, "password": userPW}, "").expect(t, 201)
	user := signIn(t, gw, userEmail, userPW).str("access_token")

	events := sse(t, gw+"/v1/realtime?subscribe="+url.QueryEscape("posts/*"), "")
	events.waitFor(t, "event: connect")

	call(t, "POST", gw+"/v1/collections/posts/records", map[string]any{"title": "nobody reads"}, "").expect(t, 403)
	call(t, "POST", gw+"/v1/collections/posts/records", map[string]any{"title": "draft", "views": 99, "published": false}, user).expect(t, 201)
	call(t, "POST", gw+"/v1/collections/posts/records", map[string]any{"title": "few", "views": 3, "published": true}, user).expect(t, 201)
	hit := call(t, "POST", gw+"/v1/collections/posts/records", map[string]any{"title": "popular", "views": 500, "published": true}, user).expect(t, 201)

	list := call(t, "GET", gw+"/v1/collections/posts/records?filter="+url.QueryEscape("views > 10")+"&sort=-views", nil, "").expect(t, 200)
	items, _ := list.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != hit.str("id") {
		t.Errorf("anonymous views > 10 = %s, want only the published popular post", list.raw)
	}
	mine := call(t, "GET", gw+"/v1/collections/posts/records?filter="+url.QueryEscape("views > 10"), nil, user).expect(t, 200)
	if items, _ := mine.body["items"].([]any); len(items) != 2 {
		t.Errorf("the author's views > 10 = %s, want her draft too", mine.raw)
	}
	line := events.waitFor(t, `"title":"few"`)
	if !strings.Contains(line, `"action":"created"`) {
		t.Errorf("SSE change = %s", line)
	}
	if events.saw(`"title":"draft"`) {
		t.Error("an anonymous SSE client saw a draft")
	}

	out, err := run(t, nil, "content", "export", "posts", "--data-dir="+p.dataDir())
	if err != nil || strings.Count(out, `"title":`) != 3 {
		t.Errorf("bam content export while bam runs: %v\n%s", err, out)
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
	}
}

// generatedAdmin reads the first administrator's credentials that the
// embedded setup prints once at start.
func generatedAdmin(t *testing.T, p *proc) (email, pw string) {
	t.Helper()
	out := p.output()
	e := regexp.MustCompile(`email:\s+(\S+)`).FindStringSubmatch(out)
	w := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out)
	if e == nil || w == nil {
		t.Fatalf("no generated administrator in the output:\n%s", out)
	}
	return e[1], w[1]
}

// sseStream collects the lines of a Server-Sent Events response.
type sseStream struct {
	lines chan string
	seen  []string
}

// sse opens an event stream with an optional bearer token.
func sse(t *testing.T, u, token string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{lines: make(chan string, 256)}
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s
}

// waitFor returns the first line containing substr, within 10 s.
func (s *sseStream) waitFor(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("the event stream ended before %q", substr)
			}
			s.seen = append(s.seen, l)
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q on the event stream within 10 s; saw:\n%s", substr, strings.Join(s.seen, "\n"))
		}
	}
}

// saw reports whether a line read so far contains substr.
func (s *sseStream) saw(substr string) bool {
	for _, l := range s.seen {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}
