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
	fp := &filterPaths{linger: 2 * time.Second}
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
	for range 3 { // the owner is collected and its cleanup runs
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	if got := fp.of("stories"); len(got) != 1 {
		t.Fatalf("paths %v after the owner went: want them kept for the linger", got)
	}
	testenv.WaitFor(t, 5*time.Second, "the path to go after the linger", func() bool {
		runtime.GC()
		return len(fp.of("stories")) == 0
	})
}
