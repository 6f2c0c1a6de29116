package expr

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveContainsFold is the definition containsFold must agree with.
func naiveContainsFold(s, sub string) bool {
	return strings.Contains(asciiLower(s), asciiLower(sub))
}

func TestContainsFold(t *testing.T) {
	cases := []struct {
		s, sub string
		want   bool
	}{
		{"", "", true}, {"abc", "", true}, {"", "a", false}, {"Hello World", "o w", true}, {"Hello World", "WORLD", true},
		{"Hello World", "worlds", false}, {"naïve café ÉCOLE", "écol", false}, {"naïve café ÉCOLE", "Écol", true},
		{"naïve café ÉCOLE", "CAFÉ", false}, {"naïve café ÉCOLE", "CAFé", true}, {"ß", "SS", false}, {"100% pure_go", "%_", false}, {"100% pure_go", "E_G", true},
		{"aaaaab", "aab", true}, {"AbAbAbAc", "ABAC", true}, {"xyz", "XYZW", false}, {"🙂 smile", "🙂 S", true},
		{strings.Repeat("a", 10000) + "b", strings.Repeat("A", 60) + "B", true},
		{strings.Repeat(strings.Repeat("a", 49)+"b", 200), strings.Repeat("a", 60), false}, // the rolling hash takes over
		{strings.Repeat(strings.Repeat("a", 49)+"b", 200) + strings.Repeat("A", 60), strings.Repeat("a", 60), true},
	}
	for _, c := range cases {
		if got := containsFold(c.s, c.sub); got != c.want || got != naiveContainsFold(c.s, c.sub) {
			t.Errorf("containsFold(%.40q, %.40q) = %v, want %v", c.s, c.sub, got, c.want)
		}
	}
	// Random texts over a small alphabet, so that candidates and partial
	// matches abound.
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "A", "b", "B", " ", "é", "É", "0", "z"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20000 {
		s, sub := word(rng.IntN(60)), word(rng.IntN(5))
		if got, want := containsFold(s, sub), naiveContainsFold(s, sub); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	}
}

func TestRabinKarpFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		s := strings.Repeat("aAb", rng.IntN(30)) + "B"
		sub := strings.Repeat("a", 1+rng.IntN(4)) + "b"
		if got, want := rabinKarpFold(s, sub), naiveContainsFold(s, sub); got != want {
			t.Fatalf("rabinKarpFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	}
}

func FuzzContainsFold(f *testing.F) {
	f.Add("Hello World", "o w")
	f.Add(strings.Repeat("ab", 100), "ABABABC")
	f.Add("naïve café", "É")
	f.Fuzz(func(t *testing.T, s, sub string) {
		if got, want := containsFold(s, sub), naiveContainsFold(s, sub); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}
