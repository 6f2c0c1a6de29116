package content_test

import (
	"context"
	"net/http"
	"testing"
)

// TestRealtimeAnonymousBehindProxy: anonymous realtime connections are
// counted per client as the trusted proxy in front names it
// (X-Forwarded-For), not per proxy: the gateway's many clients do not
// share one connection budget.
func TestRealtimeAnonymousBehindProxy(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, openDef)
		open := func(client string) int {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			req, _ := http.NewRequestWithContext(ctx, "GET", r.URL+"/v1/realtime?subscribe=docs/*", nil)
			req.Header.Set("X-Forwarded-For", client)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				resp.Body.Close()
			}
			return resp.StatusCode
		}
		for i := range 20 {
			if s := open("203.0.113.1"); s != 200 {
				t.Fatalf("connection %d of a client: %d", i+1, s)
			}
		}
		if s := open("203.0.113.1"); s != 429 {
			t.Errorf("the 21st connection of one client: %d, want 429", s)
		}
		if s := open("203.0.113.2"); s != 200 {
			t.Errorf("another client behind the same proxy: %d, want 200", s)
		}
	})
}
