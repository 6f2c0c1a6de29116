package loadtest

import (
	"testing"
	"time"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	sorted := make([]time.Duration, 1000) // 1 … 1000
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.9: 900, 0.99: 990, 0.999: 999, 1: 1000, 0: 1} {
		if got := percentile(sorted, q); got != want {
			t.Errorf("q %v: %d, want %d", q, got, want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("one value: %d", got)
	}
}
