package parser

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// This file puts the []byte of a generic tree (a JSON packet's
// attachments, or a value an adapter holds) into a Go value that
// encoding/json has filled from the tree's JSON, with each []byte
// written as base64 there. encoding/json gets every typed place right
// ([]byte fields and elements read base64), but a place of type any gets
// the base64 string; fillBinary puts the []byte there instead, so that
// binary is a []byte at any depth, as a Buffer is in Node.

// DecodeTree stores tree, a generic value as Normalize makes it (maps,
// slices, strings, numbers, bools, nil and []byte), in dst, a pointer, as
// json.Unmarshal would store tree's JSON, except that every []byte stays
// a []byte: in []byte places (as the base64 of the JSON would decode), and
// in places of type any, at any depth, where the JSON would leave a
// string. Numbers in places of type any are float64, as json.Unmarshal
// makes them. What dst gets shares no map or slice with tree; the bytes
// are copied too. Adapters use it for the values they hold as trees.
func DecodeTree(tree any, dst any) error {
	switch p := dst.(type) {
	case *any:
		*p = jsonCopy(tree)
		return nil
	case *[]byte:
		if b, ok := tree.([]byte); ok {
			*p = bytes.Clone(b)
			return nil
		}
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return err
	}
	if rv := reflect.ValueOf(dst); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		fillBinary(rv.Elem(), tree, 0)
	}
	return nil
}

// jsonCopy copies a generic tree as json.Unmarshal would make it from
// the tree's JSON, but with its []byte kept (copied): new maps and slices,
// every number a float64.
func jsonCopy(v any) any {
	switch t := v.(type) {
	case []any:
		if t == nil {
			return nil
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonCopy(e)
		}
		return out
	case map[string]any:
		if t == nil {
			return nil
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonCopy(e)
		}
		return out
	case []byte:
		if t == nil {
			return nil
		}
		return bytes.Clone(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case int:
		return float64(t)
	case float32:
		return float64(t)
	}
	return v
}

// holdsBytes reports whether a generic tree holds a []byte.
func holdsBytes(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range t {
			if holdsBytes(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if holdsBytes(e) {
				return true
			}
		}
	}
	return false
}

// fillBinary walks dst, just decoded by encoding/json from tree's JSON,
// and sets each empty interface on the way whose part of tree holds a
// []byte to that part (copied, as json.Unmarshal would make it). It follows maps, slices, arrays, pointers and struct
// fields as encoding/json matched them, and leaves alone the types that
// decode themselves (json.Unmarshaler).
func fillBinary(dst reflect.Value, tree any, depth int) {
	if depth > maxSplitDepth || tree == nil || !holdsAny(dst.Type()) {
		return
	}
	if dst.CanAddr() && dst.Addr().Type().Implements(unmarshalerType) {
		return
	}
	switch dst.Kind() {
	case reflect.Interface:
		if !dst.CanSet() || dst.IsNil() {
			return // encoding/json set nothing here: not a place it matched
		}
		if e := dst.Elem(); e.IsValid() && e.Kind() == reflect.Pointer {
			fillBinary(e, tree, depth+1) // encoding/json decoded into what it held
			return
		}
		if holdsBytes(tree) { // elsewhere encoding/json's value is right
			dst.Set(reflect.ValueOf(jsonCopy(tree)))
		}
	case reflect.Pointer:
		if !dst.IsNil() {
			fillBinary(dst.Elem(), tree, depth+1)
		}
	case reflect.Slice, reflect.Array:
		l, ok := tree.([]any)
		if !ok {
			return
		}
		for i := 0; i < dst.Len() && i < len(l); i++ {
			fillBinary(dst.Index(i), l[i], depth+1)
		}
	case reflect.Map:
		m, ok := tree.(map[string]any)
		if !ok || dst.IsNil() {
			return
		}
		et := dst.Type().Elem()
		for k, e := range m {
			if !mayHoldAttachment(e) {
				continue
			}
			key, ok := mapKey(dst.Type().Key(), k)
			if !ok {
				continue
			}
			cur := dst.MapIndex(key)
			if !cur.IsValid() {
				continue
			}
			cp := reflect.New(et).Elem() // map elements cannot be set in place
			cp.Set(cur)
			fillBinary(cp, e, depth+1)
			dst.SetMapIndex(key, cp)
		}
	case reflect.Struct:
		m, ok := tree.(map[string]any)
		if !ok {
			return
		}
		fields := jsonFields(dst.Type())
		for k, e := range m {
			if !mayHoldAttachment(e) {
				continue
			}
			if f, ok := fields.lookup(k); ok {
				if fv, ok := fieldByIndex(dst, f); ok {
					fillBinary(fv, e, depth+1)
				}
			}
		}
	}
}

// mayHoldAttachment reports whether a part of a decoded tree may hold a
// []byte, cheaply: only maps, slices and []byte may.
func mayHoldAttachment(v any) bool {
	switch v.(type) {
	case map[string]any, []any, []byte:
		return true
	}
	return false
}

// mapKey turns an object's key into a map key of type t, as encoding/json
// does for string and integer keys.
func mapKey(t reflect.Type, k string) (reflect.Value, bool) {
	switch t.Kind() {
	case reflect.String:
		return reflect.ValueOf(k).Convert(t), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(n).Convert(t), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(n).Convert(t), true
	}
	return reflect.Value{}, false
}

// fieldByIndex is the field at index in v, or false when it is behind a
// nil pointer (encoding/json set nothing there).
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	holdsAnyCache   sync.Map // reflect.Type → bool
	fieldsCache     sync.Map // reflect.Type → structFields
)

// holdsAny reports whether a value of type t may hold an empty interface
// that encoding/json fills, where fillBinary has work to do.
func holdsAny(t reflect.Type) bool {
	if v, ok := holdsAnyCache.Load(t); ok {
		return v.(bool)
	}
	r := computeHoldsAny(t, map[reflect.Type]bool{})
	holdsAnyCache.Store(t, r)
	return r
}

// computeHoldsAny is holdsAny, with visiting the types being looked at,
// which breaks cycles.
func computeHoldsAny(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		return false
	}
	visiting[t] = true
	defer delete(visiting, t)
	if t.Kind() != reflect.Interface && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return computeHoldsAny(t.Elem(), visiting)
	case reflect.Map:
		return computeHoldsAny(t.Elem(), visiting)
	case reflect.Struct:
		for _, f := range jsonFields(t).list {
			if computeHoldsAny(t.FieldByIndex(f.index).Type, visiting) {
				return true
			}
		}
	}
	return false
}

// structField is one field encoding/json decodes into.
type structField struct {
	name  string
	index []int
}

// structFields are a struct type's fields as encoding/json sees them.
type structFields struct{ list []structField }

// lookup finds the field an object's key goes to: the one of that name,
// else the first whose name matches without regard to case, as
// encoding/json decides.
func (fs structFields) lookup(key string) ([]int, bool) {
	for _, f := range fs.list {
		if f.name == key {
			return f.index, true
		}
	}
	for _, f := range fs.list {
		if strings.EqualFold(f.name, key) {
			return f.index, true
		}
	}
	return nil, false
}

// jsonFields lists t's fields under their JSON names, embedded structs
// flattened. Of several fields of one name, the least deep wins, and a
// tagged one over an untagged one of the same depth; encoding/json drops
// a name held by several equal fields, which here goes to the first.
func jsonFields(t reflect.Type) structFields {
	if v, ok := fieldsCache.Load(t); ok {
		return v.(structFields)
	}
	type cand struct {
		structField
		depth  int
		tagged bool
	}
	best := map[string]cand{}
	var order []string
	var walk func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx, depth+1, seen)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = f.Name
			}
			c := cand{structField{name, idx}, depth, tagged}
			old, ok := best[name]
			switch {
			case !ok:
				order = append(order, name)
				best[name] = c
			case depth < old.depth || depth == old.depth && tagged && !old.tagged:
				best[name] = c
			}
		}
	}
	walk(t, nil, 0, map[reflect.Type]bool{})
	fs := structFields{list: make([]structField, 0, len(order))}
	for _, n := range order {
		fs.list = append(fs.list, best[n].structField)
	}
	fieldsCache.Store(t, fs)
	return fs
}
