// Package doclint checks that every exported name of the module's
// packages has a doc comment, as pkg.go.dev readers expect.
package doclint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExportedNamesDocumented fails for each exported declaration of a
// non-main, non-test file that has no doc comment, and for each package
// (main and internal ones included) none of whose files has a package
// comment, the first thing `go doc` shows of it.
func TestExportedNamesDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	packageDoc := make(map[string]bool) // directory → a file has a package comment
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		packageDoc[dir] = packageDoc[dir] || f.Doc != nil
		if f.Name.Name == "main" {
			return nil
		}
		checked++
		for _, miss := range undocumented(f) {
			t.Errorf("%s: %s has no doc comment", fset.Position(miss.Pos()), miss.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go file checked")
	}
	for _, dir := range slices.Sorted(maps.Keys(packageDoc)) {
		if !packageDoc[dir] {
			t.Errorf("%s: the package has no package comment (a doc.go that starts with \"// Package …\")", dir)
		}
	}
}

// undocumented lists the exported names of f declared without a doc
// comment. A name in a documented const or var group counts as documented.
func undocumented(f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil && !exportedReceiver(d.Recv) {
				continue
			}
			out = append(out, d.Name)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						out = append(out, s.Name)
					}
				case *ast.ValueSpec:
					if s.Doc != nil || d.Doc != nil || s.Comment != nil {
						continue
					}
					for _, n := range s.Names {
						if n.IsExported() {
							out = append(out, n)
						}
					}
				}
			}
		}
	}
	return out
}

// exportedReceiver reports whether a method's receiver type is exported.
func exportedReceiver(recv *ast.FieldList) bool {
	if len(recv.List) == 0 {
		return false
	}
	typ := recv.List[0].Type
	for {
		switch t := typ.(type) {
		case *ast.StarExpr:
			typ = t.X
		case *ast.IndexExpr:
			typ = t.X
		case *ast.IndexListExpr:
			typ = t.X
		case *ast.Ident:
			return t.IsExported()
		default:
			return false
		}
	}
}

// TestUndocumentedCatchesMissingDocs keeps the check honest.
func TestUndocumentedCatchesMissingDocs(t *testing.T) {
	src := `package p
// Documented is fine.
func Documented() {}
func Bare() {}
type T struct{}
func (T) M() {}
type u struct{}
func (u) N() {}
// Group is documented.
const (
	A = 1
)
var B = 2
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, id := range undocumented(f) {
		names = append(names, id.Name)
	}
	if got, want := strings.Join(names, ","), "Bare,T,M,B"; got != want {
		t.Fatalf("undocumented = %s, want %s", got, want)
	}
}
