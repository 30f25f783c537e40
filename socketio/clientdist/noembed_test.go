//go:build duplex_noclientbundle

package clientdist

import "testing"

// TestFileLeftOut checks that a build with duplex_noclientbundle has no
// file.
func TestFileLeftOut(t *testing.T) {
	for _, name := range Names {
		if _, ok := File(name); ok {
			t.Errorf("File(%q) found a file", name)
		}
	}
}
