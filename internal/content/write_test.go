package content_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/store"
)

const openDef = `{"name": "docs", "fields": [{"name": "title", "type": "text", "required": true},
  {"name": "n", "type": "number"}], "rules": {"list": "", "view": "", "create": "", "update": "", "delete": ""}}`

// TestETagIfMatch: reads and writes carry the version as ETag; a write
// with a stale If-Match is refused with 412 and changes nothing; * and a
// list that names the current version pass.
func TestETagIfMatch(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, openDef)
		rec := r.create("docs", user0, map[string]any{"title": "v1"})
		if rec.Header.Get("ETag") != `"1"` {
			t.Fatalf("ETag on create = %q", rec.Header.Get("ETag"))
		}
		if loc := rec.Header.Get("Location"); !strings.HasSuffix(loc, "/v1/collections/docs/records/"+rec.str("id")) {
			t.Errorf("Location = %q", loc)
		}
		path := "/v1/collections/docs/records/" + rec.str("id")
		if g := r.call("GET", path, nil, user0).expect(t, 200, ""); g.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag on read = %q", g.Header.Get("ETag"))
		}
		r.call("GET", path, nil, user0, "If-None-Match", `"1"`).expect(t, 304, "")

		up := r.call("PATCH", path, map[string]any{"title": "v2"}, user0, "If-Match", `"1"`).expect(t, 200, "")
		if up.Header.Get("ETag") != `"2"` || up.Body["version"] != float64(2) {
			t.Fatalf("update = %v %s", up.Header.Get("ETag"), up.Raw)
		}
		r.call("PATCH", path, map[string]any{"title": "lost update"}, user0, "If-Match", `"1"`).
			expect(t, 412, "content.precondition_failed")
		r.call("PUT", path, map[string]any{"title": "lost"}, user0, "If-Match", `W/"2"`).expect(t, 412, "") // weak never matches
		r.call("DELETE", path, nil, user0, "If-Match", `"1"`).expect(t, 412, "content.precondition_failed")
		if g := r.call("GET", path, nil, user0).expect(t, 200, ""); g.Body["title"] != "v2" {
			t.Errorf("a refused write changed the record: %s", g.Raw)
		}
		r.call("PUT", path, map[string]any{"title": "v3"}, user0, "If-Match", `"7", "2"`).expect(t, 200, "")
		put := r.call("PUT", path, map[string]any{"title": "v4"}, user0, "If-Match", "*").expect(t, 200, "")
		if put.Body["n"] != nil || put.Header.Get("ETag") != `"4"` {
			t.Errorf("PUT = %s", put.Raw)
		}
		r.call("PUT", path, map[string]any{"n": 1}, user0).expect(t, 400, "content.validation_failed") // title is required
		r.call("DELETE", path, nil, user0, "If-Match", `"4"`).expect(t, 204, "")
		r.call("PATCH", path, map[string]any{"title": "x"}, user0, "If-Match", "*").expect(t, 404, "")
	})
}

// TestBatch runs writes in one transaction: all apply with their
// statuses, or, when one fails, none does and the problem names it.
func TestBatch(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		c.collection(r, openDef)
		c.collection(r, `{"name": "locked", "fields": [{"name": "title", "type": "text"}], "rules": {"list": ""}}`)
		old := r.create("docs", user0, map[string]any{"title": "old"})
		gone := r.create("docs", user0, map[string]any{"title": "gone"})
		count := func() int {
			return len(r.call("GET", "/v1/collections/docs/records", nil, user0).expect(t, 200, "").items())
		}

		// The third operation fails validation: nothing is written.
		fail := r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "POST", "collection": "docs", "body": map[string]any{"title": "new"}},
			map[string]any{"method": "DELETE", "collection": "docs", "id": gone.str("id")},
			map[string]any{"method": "POST", "collection": "docs", "body": map[string]any{"n": 1}},
		}}, user0).expect(t, 400, "content.validation_failed")
		if fail.Body["index"] != float64(2) {
			t.Errorf("index = %v: %s", fail.Body["index"], fail.Raw)
		}
		if n := count(); n != 2 {
			t.Fatalf("after a failed batch there are %d records, want the 2 from before", n)
		}
		// A rule refuses the second: 403 with its index.
		r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "POST", "collection": "docs", "body": map[string]any{"title": "new"}},
			map[string]any{"method": "POST", "collection": "locked", "body": map[string]any{"title": "no"}},
		}}, user0).expect(t, 403, "content.forbidden")
		stale := r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "PATCH", "collection": "docs", "id": old.str("id"), "body": map[string]any{"n": 1}, "ifMatch": `"9"`},
		}}, user0).expect(t, 412, "content.precondition_failed")
		if stale.Body["index"] != float64(0) {
			t.Errorf("index = %v", stale.Body["index"])
		}
		r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{}}, user0).expect(t, 400, "content.batch_too_large")
		r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "GET", "collection": "docs"}}}, user0).expect(t, 400, "content.invalid_request")

		ok := r.call("POST", "/v1/collections/batch", map[string]any{"requests": []any{
			map[string]any{"method": "POST", "collection": "docs", "body": map[string]any{"title": "new"}},
			map[string]any{"method": "PATCH", "collection": "docs", "id": old.str("id"), "body": map[string]any{"n": 2}, "ifMatch": `"1"`},
			map[string]any{"method": "DELETE", "collection": "docs", "id": gone.str("id")},
		}}, user0).expect(t, 200, "")
		resps, _ := ok.Body["responses"].([]any)
		var statuses []float64
		for _, x := range resps {
			statuses = append(statuses, x.(map[string]any)["status"].(float64))
		}
		if len(statuses) != 3 || statuses[0] != 201 || statuses[1] != 200 || statuses[2] != 204 {
			t.Errorf("responses = %s", ok.Raw)
		}
		if body := resps[1].(map[string]any)["body"].(map[string]any); body["n"] != float64(2) || body["version"] != float64(2) {
			t.Errorf("patched = %v", body)
		}
		if n := count(); n != 2 {
			t.Errorf("after the batch there are %d records, want 2", n)
		}
		if evs := c.events(r.bus, 6); len(ofType(evs, "record.created")) != 3 || len(ofType(evs, "record.deleted")) != 1 {
			t.Errorf("events: %d created, %d deleted; want 3 and 1 (failed batches publish nothing)",
				len(ofType(evs, "record.created")), len(ofType(evs, "record.deleted")))
		}
	})
}

// TestCreateDraftedBeforeItsTransaction: a create is validated, and its
// event encoded, before its write transaction begins. With SQLite's one
// writer busy, an invalid create is answered at once, while a valid one
// waits for the writer and is then written.
func TestCreateDraftedBeforeItsTransaction(t *testing.T) {
	run(t, func(t *testing.T, c *cluster, r *replica) {
		if r.db.Dialect() != store.SQLite {
			t.Skip("SQLite's writer is the lock every write transaction takes")
		}
		c.collection(r, openDef)
		held, release := make(chan struct{}), make(chan struct{})
		holder := make(chan error, 1)
		go func() {
			holder <- r.db.InTx(t.Context(), func(*store.Tx) error { close(held); <-release; return nil })
		}()
		<-held
		post := func(body string) <-chan int {
			status := make(chan int, 1)
			go func() {
				resp, err := http.Post(r.URL+"/v1/collections/docs/records", "application/json", strings.NewReader(body))
				if err != nil {
					status <- 0
					return
				}
				resp.Body.Close()
				status <- resp.StatusCode
			}()
			return status
		}
		valid, invalid := post(`{"title": "waits for the writer"}`), post(`{"n": 1}`)
		select {
		case got := <-invalid:
			if got != http.StatusBadRequest {
				t.Errorf("invalid create: %d, want 400", got)
			}
		case <-time.After(5 * time.Second):
			t.Error("an invalid create waited for the write transaction of another")
		}
		select {
		case got := <-valid:
			t.Errorf("a valid create was answered (%d) while the writer was busy", got)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-holder; err != nil {
			t.Fatal(err)
		}
		if got := <-valid; got != http.StatusCreated {
			t.Fatalf("valid create: %d, want 201", got)
		}
		if n := len(r.call("GET", "/v1/collections/docs/records", nil, user0).expect(t, 200, "").items()); n != 1 {
			t.Errorf("%d records, want 1", n)
		}
	})
}
