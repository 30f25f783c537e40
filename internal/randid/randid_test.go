package randid

import (
	"encoding/hex"
	"regexp"
	"testing"
)

func TestNew(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := New()
		if !shape.MatchString(id) {
			t.Fatalf("New() = %q, want 20 URL-safe characters", id)
		}
		if seen[id] {
			t.Fatalf("New() returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestHex(t *testing.T) {
	for _, n := range []int{1, 6, 7, 16} {
		h := Hex(n)
		if len(h) != n {
			t.Fatalf("Hex(%d) = %q, want %d characters", n, h, n)
		}
		if _, err := hex.DecodeString(h + h[:n%2]); err != nil {
			t.Fatalf("Hex(%d) = %q: %v", n, h, err)
		}
	}
	a, b := Hex(16), Hex(16)
	if a == b {
		t.Fatalf("Hex(16) returned %q twice", a)
	}
}
