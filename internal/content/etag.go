package content

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/store"
)

// etag is a record's entity tag: its version, quoted ("3").
func etag(rec records.Record) string {
	return `"` + strconv.FormatInt(versionOf(rec), 10) + `"`
}

// ifMatch is a parsed If-Match header (or a batch operation's ifMatch).
type ifMatch struct {
	set      bool    // the header was sent
	any      bool    // "*": any current version
	versions []int64 // the strong tags that name a version
}

// parseIfMatch reads "*" or a list of entity tags. Weak tags and tags that
// name no version never match (If-Match compares strongly), so a header of
// only those always fails the precondition.
func parseIfMatch(h string) ifMatch {
	h = strings.TrimSpace(h)
	if h == "" {
		return ifMatch{}
	}
	if h == "*" {
		return ifMatch{set: true, any: true}
	}
	m := ifMatch{set: true}
	for _, tag := range splitTags(h) {
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		inner := tag[1 : len(tag)-1]
		if v, err := strconv.ParseInt(inner, 10, 64); err == nil && v > 0 && strconv.FormatInt(v, 10) == inner {
			m.versions = append(m.versions, v) // only the form etag writes: "01" names no version
		}
	}
	return m
}

// version resolves the condition to the ifVersion of records.Update and
// Delete: 0 for none (or "*"), the version named, or with several tags the
// record's current version when it is among them.
func (m ifMatch) version(ctx context.Context, s *Service, tx *store.Tx, c *schema.Collection, id string, access *records.Access) (int64, error) {
	switch {
	case !m.set || m.any:
		return 0, nil
	case len(m.versions) == 1:
		return m.versions[0], nil
	case len(m.versions) == 0:
		return 0, errPrecondition()
	}
	cur, err := s.Records.Get(ctx, tx, c, id, access)
	if err != nil {
		return 0, err
	}
	if v := versionOf(cur); slices.Contains(m.versions, v) {
		return v, nil
	}
	return 0, errPrecondition()
}

func errPrecondition() error {
	return errs.E(errs.PreconditionFailed, CodePrecondition,
		"The record has changed since you read it: read it again and retry with its new ETag.")
}

// splitTags splits a list of entity tags.
func splitTags(h string) []string {
	var out []string
	for t := range strings.SplitSeq(h, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
