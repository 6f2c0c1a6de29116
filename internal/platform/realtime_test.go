package platform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/testenv"
)

// TestWebSocketThroughGatewayInProcess runs auth, content and the gateway
// in one process, as `bam serve` does, and subscribes to a collection's
// changes over a WebSocket through the public listener: the upgrade
// reaches the content service in-process, and a record created through
// the gateway arrives as a change.
func TestWebSocketThroughGatewayInProcess(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.Addr = testenv.FreeAddr(t)
	cfg.Content.CollectionsFile = filepath.Join(t.TempDir(), "collections.yaml")
	if err := os.WriteFile(cfg.Content.CollectionsFile, []byte(`collections:
  - name: notes
    fields: [{name: title, type: text}]
    rules: {list: "", view: "", create: ""}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, cfg, auth.Spec(cfg), content.Spec(cfg))
	base := "http://" + cfg.HTTP.Addr

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var conn *websocket.Conn
	var err error
	for { // the gateway may still be starting
		var resp *http.Response
		conn, resp, err = websocket.Dial(ctx, "ws://"+cfg.HTTP.Addr+"/v1/realtime", nil)
		if err == nil {
			break
		}
		if ctx.Err() != nil || (resp != nil && resp.StatusCode != http.StatusServiceUnavailable) {
			t.Fatalf("dial /v1/realtime: %v (%v)", err, resp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.CloseNow()
	next := func(want string) map[string]any {
		t.Helper()
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["type"] == want {
				return m
			}
			if m["type"] == "error" {
				t.Fatalf("waiting for %q: %s", want, b)
			}
		}
	}
	connected := next("connected")
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"s1","topic":"notes/*"}`)); err != nil {
		t.Fatal(err)
	}
	next("ack")

	// Changes come from the content stream, which the service may still be
	// starting to follow: a record created too early may never be seen,
	// so create one a second until a change arrives.
	changes, failed := make(chan map[string]any, 1), make(chan error, 1)
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				failed <- err
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) == nil && m["type"] == "change" {
				changes <- m
				return
			}
		}
	}()
	var change map[string]any
	for i := 0; change == nil; i++ {
		resp, err := http.Post(base+"/v1/collections/notes/records", "application/json", strings.NewReader(`{"title":"live"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create record: %d", resp.StatusCode)
		}
		select {
		case change = <-changes:
			if i > 0 {
				t.Logf("%d records created before a change arrived (connected: %v)", i+1, connected)
			}
		case <-time.After(time.Second):
		case err := <-failed:
			t.Fatalf("no change after %d records (connected: %v): %v", i+1, connected, err)
		}
	}
	record, _ := change["record"].(map[string]any)
	if change["action"] != "created" || change["collection"] != "notes" || record["title"] != "live" {
		t.Fatalf("change = %v", change)
	}
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}
