package realtime

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct{ topic, coll, id string }{
		{"posts/*", "posts", ""}, {"posts/01J", "posts", "01J"},
		{"posts", "", ""}, {"posts/", "", ""}, {"/*", "", ""}, {"a/b/c", "", ""}, {"", "", ""},
	} {
		coll, id, err := parseTopic(tc.topic)
		if (err == nil) != (tc.coll != "") || coll != tc.coll || id != tc.id {
			t.Errorf("parseTopic(%q) = %q %q %v", tc.topic, coll, id, err)
		}
	}
}

// FuzzSpecsFromQuery feeds arbitrary query strings to the subscription
// parsers: they never panic, and what they accept is well formed.
func FuzzSpecsFromQuery(f *testing.F) {
	for _, seed := range []string{
		"subscribe=posts/*", "subscribe=posts/1&subscribe=notes/*",
		`subscriptions=[{"topic":"posts/*","filter":"views > 10"}]`,
		`subscriptions=[{"id":"a","topic":"posts/x"}]&subscribe=posts/*`,
		`subscriptions=[{"topic":1}]`, `subscriptions={}`, `subscriptions=[]x`, "subscribe=/", "%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		specs, err := specsFromQuery(q)
		if err != nil {
			return
		}
		for _, s := range specs {
			if checkSpec(s) != nil {
				continue
			}
			coll, id, err := parseTopic(s.Topic)
			if err != nil || coll == "" || strings.Contains(coll, "/") || strings.Contains(id, "/") {
				t.Fatalf("checkSpec accepted %q: %q %q %v", s.Topic, coll, id, err)
			}
			if s.name() == "" || len(s.name()) > maxNameBytes {
				t.Fatalf("bad name %q", s.name())
			}
		}
	})
}
