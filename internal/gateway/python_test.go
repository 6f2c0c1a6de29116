package gateway_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pythonEcho answers with the Authorization header it received and
// records every request it sees on stdout.
const pythonEcho = `
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization") or ""
        print("saw", self.path, flush=True)
        body = json.dumps({"auth": auth, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("port", s.server_address[1], flush=True)
s.serve_forever()
`

// TestPythonUpstream: a service in another language behind the gateway
// with auth: required. Anonymous requests stop at the edge; a valid token
// reaches the service exactly as the caller sent it.
func TestPythonUpstream(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	cmd := exec.Command(py, "-u", "-c", pythonEcho)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var port string
	select {
	case l := <-lines:
		port = strings.TrimPrefix(l, "port ")
	case <-time.After(10 * time.Second):
		t.Fatal("python server did not start")
	}
	srv, a := front(t, fmt.Sprintf("gateway:\n  routes:\n    - {path: /py/, upstream: 'http://127.0.0.1:%s', auth: required, strip_prefix: true}\n", port))

	resp, body := do(t, "GET", srv.URL+"/py/anonymous", nil)
	if resp.StatusCode != 401 || body["code"] != "auth.token_missing" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("anonymous: %d %v", resp.StatusCode, body)
	}
	authz := "Bearer " + a.token("alice", nil)
	resp, body = do(t, "GET", srv.URL+"/py/orders?id=1", map[string]string{"Authorization": authz})
	if resp.StatusCode != 200 || body["auth"] != authz || body["path"] != "/orders?id=1" {
		t.Errorf("with token: %d %v", resp.StatusCode, body)
	}
	// The python server saw exactly one request: the authenticated one.
	select {
	case l := <-lines:
		if l != "saw /orders?id=1" {
			t.Errorf("python saw %q first", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("python server logged nothing")
	}
	select {
	case l := <-lines:
		t.Errorf("python saw another request: %q", l)
	case <-time.After(100 * time.Millisecond):
	}
}
