//go:build duplex_noclientbundle

package clientdist

// File finds nothing: the binary was built with the tag
// duplex_noclientbundle, which leaves the files out.
func File(name string) (string, bool) { return "", false }
