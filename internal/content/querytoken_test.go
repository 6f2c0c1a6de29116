package content_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestRealtimeAccessTokenParam: GET /v1/realtime takes the token from
// ?access_token= (browsers cannot set headers on EventSource and
// WebSocket), verified like the header: a good one is the caller, a bad
// one is 401; other endpoints ignore the parameter.
func TestRealtimeAccessTokenParam(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, `{"name": "notes", "fields": [{"name": "text", "type": "text"}, {"name": "author", "type": "owner"}],
		  "rules": {"list": "author = @request.auth.id", "view": "author = @request.auth.id",
		            "create": "@request.auth.id != null"}}`)
		ann := c.tokens.mint(nil, nil)
		base := r.URL + "/v1/realtime?subscribe=notes/*&access_token="
		sse := openSSE(t, base+url.QueryEscape(ann.Token), user0, "")
		sse.next(t, "connect")
		mine := r.create("notes", ann, map[string]any{"text": "mine"})
		if got := changeOf(t, sse.next(t, "change")); got["id"] != mine.str("id") {
			t.Errorf("got %v, want ann's note: the stream is ann's", got)
		}
		if status, code := probe(t, "GET", base+"not-a-token"); status != 401 {
			t.Errorf("a bad token in the query: %d %s, want 401", status, code)
		}
		req, _ := http.NewRequest("GET", base+url.QueryEscape(ann.Token), nil)
		req.Header.Set("Authorization", "Bearer "+ann.Token)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
			t.Errorf("a token in the query and the header: %v %v, want 400", resp.StatusCode, err)
		} else {
			resp.Body.Close()
		}
		// A WebSocket too.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+url.QueryEscape(ann.Token), nil)
		if err != nil {
			t.Fatalf("WebSocket with the token in the query: %v", err)
		}
		_ = conn.Close(websocket.StatusNormalClosure, "")
		// Elsewhere the parameter means nothing: the caller is anonymous.
		r.call("POST", "/v1/collections/notes/records?access_token="+url.QueryEscape(ann.Token), map[string]any{"text": "x"}, user0).
			expect(t, 403, "content.forbidden")
	})
}
