package adapter

import (
	"maps"
	"slices"
	"testing"
)

// idSet behaves as a map[string]struct{} would, whichever member sits
// outside its map.
func TestIDSet(t *testing.T) {
	var s idSet
	ref := map[string]struct{}{}
	check := func(step string) {
		t.Helper()
		if s.len() != len(ref) {
			t.Fatalf("%s: len %d, want %d", step, s.len(), len(ref))
		}
		got := slices.Sorted(s.all())
		if want := slices.Sorted(maps.Keys(ref)); !slices.Equal(got, want) {
			t.Fatalf("%s: members %q, want %q", step, got, want)
		}
		for x := range ref {
			if !s.has(x) {
				t.Fatalf("%s: %q missing", step, x)
			}
		}
		if len(ref) <= 1 && s.many != nil {
			t.Fatalf("%s: a map kept for %d members", step, len(ref))
		}
	}
	ops := []struct {
		add  bool
		x    string
		want bool
	}{
		{true, "a", true}, {true, "a", false}, {true, "", true}, {true, "b", true},
		{false, "a", true}, {false, "a", false}, {false, "", true}, {true, "c", true},
		{false, "b", true}, {false, "c", true}, {false, "c", false}, {true, "d", true},
	}
	for _, op := range ops {
		var got bool
		if op.add {
			got = s.add(op.x)
			ref[op.x] = struct{}{}
		} else {
			got = s.del(op.x)
			delete(ref, op.x)
		}
		if got != op.want {
			t.Fatalf("add=%v %q: %v, want %v", op.add, op.x, got, op.want)
		}
		check(op.x)
	}
}
