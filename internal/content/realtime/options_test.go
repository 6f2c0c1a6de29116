package realtime

import (
	"net/http"
	"testing"
)

func TestDefaultClientKeyIsTheRemoteHost(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1", "@": "@",
	} {
		o := Options{}.withDefaults()
		if got := o.ClientKey(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
