package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInvalidClientChallengesBasic: a client that authenticated with HTTP
// Basic and failed is answered 401 invalid_client with
// WWW-Authenticate: Basic (RFC 6749 §5.2), at the token and revocation
// endpoints; credentials sent in the body get no challenge.
func TestInvalidClientChallengesBasic(t *testing.T) {
	run(t, func(t *testing.T, h *harness) {
		h.registerApp("web", "s3cret", "https://web.example/cb")
		post := func(path string, form url.Values, basic bool) response {
			t.Helper()
			req, _ := http.NewRequest("POST", h.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if basic {
				req.SetBasicAuth("web", "wrong")
			}
			return h.send(req)
		}
		for _, tc := range []struct {
			name, path string
			form       url.Values
		}{
			{"client_credentials", "/v1/auth/token", url.Values{"grant_type": {"client_credentials"}}},
			{"authorization_code", "/v1/auth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
				"redirect_uri": {"https://web.example/cb"}}},
			{"refresh_token", "/v1/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"bamr_x"}}},
			{"revoke", "/v1/auth/revoke", url.Values{"token": {"bamr_x"}}},
		} {
			r := post(tc.path, tc.form, true).expect(t, 401, "auth.invalid_client")
			if r.Body["error"] != "invalid_client" || r.Header.Get("WWW-Authenticate") != `Basic realm="bam"` {
				t.Errorf("%s with Basic: error %v, WWW-Authenticate %q", tc.name, r.Body["error"], r.Header.Get("WWW-Authenticate"))
			}
			body := url.Values{"client_id": {"web"}, "client_secret": {"wrong"}}
			for k, v := range tc.form {
				body[k] = v
			}
			r = post(tc.path, body, false).expect(t, 401, "auth.invalid_client")
			if got := r.Header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("%s with body credentials: WWW-Authenticate %q", tc.name, got)
			}
		}
	})
}
