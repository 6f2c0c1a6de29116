package auth

import "testing"

func TestPadSize(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 64: 64, 65: 128, maxPadSize: maxPadSize} {
		if got := padSize(n); got != want {
			t.Errorf("padSize(%d) = %d; want %d", n, got, want)
		}
	}
	if refreshBatchMax > maxPadSize {
		t.Fatalf("refreshBatchMax %d > maxPadSize %d", refreshBatchMax, maxPadSize)
	}
	if got := placeholders(2, 2, 3); got != "($2, $3, $4), ($5, $6, $7)" {
		t.Errorf("placeholders(2, 2, 3) = %q", got)
	}
}
