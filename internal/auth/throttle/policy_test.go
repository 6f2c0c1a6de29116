package throttle

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyBlock(t *testing.T) {
	t.Parallel()
	std := Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute}
	odd := Policy{Free: 1, Base: 3 * time.Second, Max: 10 * time.Second}
	tests := []struct {
		p        Policy
		failures int
		want     time.Duration
	}{
		{std, 0, 0},
		{std, 1, 0},
		{std, 4, 0},
		{std, 5, time.Second},
		{std, 6, 2 * time.Second},
		{std, 7, 4 * time.Second},
		{std, 14, 512 * time.Second},
		{std, 15, 15 * time.Minute}, // 1024s, capped
		{std, 1 << 30, 15 * time.Minute},
		{odd, 1, 3 * time.Second},
		{odd, 2, 6 * time.Second},
		{odd, 3, 10 * time.Second},
		{odd, 100, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.p.block(tt.failures); got != tt.want {
			t.Errorf("Policy{Free: %d, Base: %s, Max: %s}.block(%d) = %s, want %s",
				tt.p.Free, tt.p.Base, tt.p.Max, tt.failures, got, tt.want)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	p, err := Policy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if p.Free != DefaultFree || p.Base != DefaultBase || p.Max != DefaultMax || p.Window != DefaultWindow || p.Clock == nil {
		t.Errorf("defaults = %+v", p)
	}
	// A Max beyond the default window stretches the window with it.
	p, err = Policy{Max: 2 * time.Hour}.withDefaults()
	if err != nil || p.Window != 2*time.Hour {
		t.Errorf("Policy{Max: 2h}: window %s, err %v", p.Window, err)
	}
}

func TestPolicyInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{Free: -1}, "Free = -1"},
		{Policy{Base: time.Microsecond}, "Base = 1µs"},
		{Policy{Base: time.Minute, Max: time.Second}, "Max = 1s: want at least Base (1m0s)"},
		{Policy{Max: time.Hour, Window: time.Minute}, "Window = 1m0s: want at least Max (1h0m0s)"},
	}
	for _, tt := range tests {
		_, err := New(nil, tt.p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v, want it to contain %q", tt.p, err, tt.want)
		}
	}
}
