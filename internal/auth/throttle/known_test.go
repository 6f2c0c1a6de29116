package throttle_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bamhq/bam/internal/auth/throttle"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
)

// TestCheckKnown: CheckKnown answers as Check and names the keys with
// failures counted, blocked or not.
func TestCheckKnown(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Parallel()
		th := newThrottle(t, db, newClock())
		ctx := context.Background()
		mustFail(t, th, "acct")
		for range testPolicy.Free {
			mustFail(t, th, "ip")
		}
		wait, known, err := th.CheckKnown(ctx, "ip", "acct", "fresh")
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(known)
		if wait != testPolicy.Base || !slices.Equal(known, []string{"acct", "ip"}) {
			t.Fatalf("CheckKnown = %s, %q; want %s, [acct ip]", wait, known, testPolicy.Base)
		}
		if _, known, _ := th.CheckKnown(ctx, "fresh"); len(known) != 0 {
			t.Fatalf("a key never failed is known: %q", known)
		}
	}, throttle.Migrations)
}
