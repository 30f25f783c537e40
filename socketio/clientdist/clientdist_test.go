//go:build !duplex_noclientbundle

package clientdist

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// installed is the socket.io-client package the interop suite installs
// (npm ci in interop/), the release the files must come from.
var installed = filepath.Join("..", "..", "interop", "node_modules", "socket.io-client")

// TestFilesEqualNPMPackage checks that the embedded files are the npm
// package's files of the pinned release, byte for byte, and that dist/
// holds them, their LICENSE and nothing else. It needs the package
// installed (cd interop && npm ci) and fails, rather than skips, without
// it.
func TestFilesEqualNPMPackage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(installed, "package.json"))
	if err != nil {
		t.Fatalf("socket.io-client %s is not installed (cd interop && npm ci): %v", Version, err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", installed, err)
	}
	if pkg.Version != Version {
		t.Fatalf("installed socket.io-client is %s, the pinned release is %s: run refresh.sh or npm ci in interop", pkg.Version, Version)
	}
	for _, name := range Names {
		want, err := os.ReadFile(filepath.Join(installed, "dist", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, ok := File(name)
		if !ok {
			t.Errorf("File(%q) found nothing", name)
			continue
		}
		if got != string(want) {
			t.Errorf("%s: the embedded file (%d bytes) differs from the npm package's (%d bytes)", name, len(got), len(want))
		}
	}
	license, err := os.ReadFile(filepath.Join(installed, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if ours, err := os.ReadFile(filepath.Join("dist", "LICENSE")); err != nil || string(ours) != string(license) {
		t.Errorf("dist/LICENSE differs from the npm package's LICENSE (err %v)", err)
	}
	entries, err := os.ReadDir("dist")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := append(slices.Clone(Names), "LICENSE")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("dist/ holds %q, want %q", names, want)
	}
}

// TestNamesAreTheReferences checks Names against the list of files the
// installed reference server serves (CLIENT_FILES in socket.io's
// dist/index.js).
func TestNamesAreTheReferences(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "interop", "node_modules", "socket.io", "dist", "index.js"))
	if err != nil {
		t.Fatalf("the reference server is not installed (cd interop && npm ci): %v", err)
	}
	list := regexp.MustCompile(`CLIENT_FILES = new Set\(\[([^\]]*)\]\)`).FindSubmatch(src)
	if list == nil {
		t.Fatal("no CLIENT_FILES list in socket.io's dist/index.js")
	}
	var ref []string
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllSubmatch(list[1], -1) {
		ref = append(ref, string(m[1]))
	}
	got := slices.Sorted(slices.Values(Names))
	slices.Sort(ref)
	if !slices.Equal(got, ref) {
		t.Errorf("Names = %q, the reference serves %q", got, ref)
	}
}

// TestFileUnknown checks that File finds only the listed files.
func TestFileUnknown(t *testing.T) {
	for _, name := range []string{"", "LICENSE", "socket.io.slim.js", "../clientdist.go", "dist/socket.io.js", "SOCKET.IO.JS"} {
		if _, ok := File(name); ok {
			t.Errorf("File(%q) found a file", name)
		}
	}
}
