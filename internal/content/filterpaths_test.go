package content

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/testenv"
)

// TestFilterPathsLinger: a path stays counted while its owner lives and
// for the linger after the owner is collected, then goes.
func TestFilterPathsLinger(t *testing.T) {
	fp := &filterPaths{linger: 200 * time.Millisecond}
	filter, err := expr.Parse(`author.name = "Ann" && views > 1`)
	if err != nil {
		t.Fatal(err)
	}
	owner := &matcherState{}
	fp.add("stories", filter, owner)
	want := [][]string{{"author", "name"}}
	if got := fp.of("stories"); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("paths %v, want %v", got, want)
	}
	runtime.KeepAlive(owner)
	runtime.GC()
	runtime.GC()
	if got := fp.of("stories"); len(got) != 1 {
		t.Fatalf("paths %v right after the owner went: want them kept for the linger", got)
	}
	testenv.WaitFor(t, 5*time.Second, "the path to go after the linger", func() bool {
		runtime.GC()
		return len(fp.of("stories")) == 0
	})
}
