package fastlane

import (
	"bytes"
	"testing"
)

// FuzzAppendWithout: whatever the header block, the replay keeps no line
// of the dropped header nor any line that continues one, and keeps every
// other line.
func FuzzAppendWithout(f *testing.F) {
	f.Add([]byte("Host: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
	f.Add([]byte("Expect: 100-\r\n continue\r\n\tmore\r\nA: b\r\n"))
	f.Add([]byte("expect:x\nEXPECT : y\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := appendWithout(nil, raw, "expect")
		dropping := false
		for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			folded := line[0] == ' ' || line[0] == '\t'
			name, _, hasColon := bytes.Cut(line, []byte(":"))
			drop := (dropping && folded) || hasColon && bytes.EqualFold(bytes.TrimSpace(name), []byte("expect"))
			dropping = drop
			if !drop && !bytes.Contains(out, bytes.TrimRight(line, "\n")) {
				t.Fatalf("line %q lost from %q: %q", line, raw, out)
			}
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			if name, _, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("expect")) {
				t.Fatalf("an Expect line kept: %q from %q", out, raw)
			}
		}
	})
}
