package parser

import (
	"bytes"
	"encoding"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// This file walks Go values as encoding/json lays them out, keeping []byte
// as binary. JSONParser.Encode uses the walk to find attachments
// (deconstruct, in binary.go), and Normalize, for adapters that encode
// packet data in their own formats, to make a generic tree.

// Normalize turns v into the generic tree encoding/json would make of it,
// except that every []byte stays a []byte, as the JSON parser sends those
// as binary attachments. Adapters that encode packet data in formats of
// their own, such as the Redis adapters, start from this tree.
//
// The tree holds map[string]any (from maps and structs), []any (from
// slices and arrays), string, bool, nil, []byte, int64 and float64. A
// number is an int64 when it is an integer that int64 holds, whatever its
// Go type (JavaScript has one kind of number, and notepack encodes 2.0 as
// 2), and a float64 otherwise. Structs become maps under their JSON field
// names: the json tag's name, "-", omitempty and omitzero, embedded
// structs flattened. Types with a MarshalJSON or MarshalText method, and
// every part of v that cannot hold a []byte, go through encoding/json
// itself; a json.RawMessage is decoded. A Value, as received from a client
// or another node, is decoded into an any first.
//
// The []byte of the tree share their memory with v; its maps and slices
// are new, and nil ones stay nil. Normalize fails where encoding/json
// does: on a func, a channel, a cycle, NaN or an infinity, or invalid raw
// JSON.
func Normalize(v any) (any, error) {
	var w treeWalk
	return w.any(v)
}

// maxSplitDepth bounds the nesting the walk follows: deeper values (a
// cyclic map, say) are left to encoding/json, which reports cycles, rather
// than overflowing the stack.
const maxSplitDepth = 1000

// treeWalk is the state of a walk over a Go value. The parts that may
// hold a []byte are copied into maps and slices, structs under their JSON
// field names; leaf turns the other parts.
type treeWalk struct {
	// placeholders selects the JSON parser's form: each []byte, nil
	// included, becomes a {"_placeholder":true,"num":N} object and is
	// appended to bufs, and what holds no []byte is left as it is for
	// encoding/json. Without it the walk makes Normalize's tree.
	placeholders bool
	// ordered makes the objects of values with their own JSON
	// orderedObjects, which keep the keys' order, for the msgpack encoder.
	ordered bool
	bufs    [][]byte
	depth   int
}

// any is Normalize's walk: the common types without reflection, the rest
// through value.
func (w *treeWalk) any(v any) (any, error) {
	if w.depth >= maxSplitDepth {
		return jsonTree(v) // a cycle, or absurd nesting: encoding/json reports it
	}
	w.depth++
	defer func() { w.depth-- }()
	switch t := v.(type) {
	case nil, string, bool, int64:
		return v, nil
	case []byte:
		if t == nil {
			return nil, nil
		}
		return t, nil
	case float64:
		return floatNumber(t)
	case int:
		return int64(t), nil
	case int8:
		return int64(t), nil
	case int16:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint8:
		return int64(t), nil
	case uint16:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint:
		return uintNumber(uint64(t)), nil
	case uint64:
		return uintNumber(t), nil
	case float32:
		return floatNumber(float32Number(t))
	case json.RawMessage:
		return rawTree(t)
	case []any:
		if t == nil {
			return nil, nil
		}
		out := make([]any, len(t))
		for i, e := range t {
			n, err := w.any(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		if t == nil {
			return nil, nil
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := w.any(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return w.value(reflect.ValueOf(v))
}

// value walks the value rv, which needs reflection.
func (w *treeWalk) value(rv reflect.Value) (any, error) {
	if !rv.IsValid() {
		return nil, nil
	}
	if w.depth >= maxSplitDepth {
		return w.leaf(rv)
	}
	w.depth++
	defer func() { w.depth-- }()
	t := rv.Type()
	if !mayHoldBinary(t) {
		return w.leaf(rv)
	}
	if t == bytesType {
		if w.placeholders {
			return w.placeholder(rv.Bytes()), nil
		}
		if rv.IsNil() {
			return nil, nil
		}
		return rv.Bytes(), nil
	}
	if t.Kind() != reflect.Interface && t.Implements(valueType) {
		if w.placeholders {
			return rv.Interface(), nil // as encoding/json has it
		}
		if t.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		var out any
		if err := rv.Interface().(Value).Decode(&out); err != nil {
			return nil, err
		}
		return w.any(out)
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return w.value(rv.Elem())
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := w.value(rv.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			e, err := w.value(it.Value())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = e
		}
		return out, nil
	case reflect.Struct:
		out := make(map[string]any, t.NumField())
		if err := w.fields(rv, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return w.leaf(rv)
}

// fields copies a struct's fields into out under their JSON names,
// following the json tag's name, "-", omitempty and omitzero, and
// flattening embedded structs without a name. Unlike encoding/json, it
// ignores the "string" option, leaves out unexported embedded structs
// that have a tag name, and lets a flattened field overwrite one of the
// same name instead of following Go's rules for embedded names.
func (w *treeWalk) fields(rv reflect.Value, out map[string]any) error {
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := rv.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv, ft = fv.Elem(), ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := w.fields(fv, out); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if opts != "" && (hasOption(opts, "omitempty") && isEmptyValue(fv) || hasOption(opts, "omitzero") && isZeroValue(fv)) {
			continue
		}
		e, err := w.value(fv)
		if err != nil {
			return err
		}
		out[name] = e
	}
	return nil
}

// leaf turns a value that holds no []byte: unchanged for the JSON parser,
// into a generic tree for Normalize.
func (w *treeWalk) leaf(rv reflect.Value) (any, error) {
	if w.placeholders {
		return rv.Interface(), nil
	}
	t := rv.Type()
	if !t.Implements(marshalerType) && !t.Implements(textMarshalerType) {
		switch t.Kind() {
		case reflect.String:
			return rv.String(), nil
		case reflect.Bool:
			return rv.Bool(), nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return rv.Int(), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return uintNumber(rv.Uint()), nil
		case reflect.Float32:
			return floatNumber(float32Number(float32(rv.Float())))
		case reflect.Float64:
			return floatNumber(rv.Float())
		}
	}
	if raw, ok := rv.Interface().(json.RawMessage); ok {
		return rawTree(raw)
	}
	if w.ordered {
		return orderedTree(rv.Interface())
	}
	return jsonTree(rv.Interface())
}

// placeholder appends b to the attachments and returns the object that
// stands for it.
func (w *treeWalk) placeholder(b []byte) map[string]any {
	w.bufs = append(w.bufs, b)
	return map[string]any{"_placeholder": true, "num": len(w.bufs) - 1}
}

// floatNumber is a Go float as Normalize has numbers, or encoding/json's
// error for NaN and the infinities.
func floatNumber(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	return intOrFloat(f), nil
}

// intOrFloat is f as an int64 when f is an integer that int64 holds.
func intOrFloat(f float64) any {
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f)
	}
	return f
}

// uintNumber is u as Normalize has numbers.
func uintNumber(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return float64(u)
}

// float32Number is f as encoding/json writes it, read back as a float64:
// 0.1, not 0.10000000149011612. NaN and the infinities stay as they are.
func float32Number(f float32) float64 {
	g, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return g
}

// rawTree decodes raw JSON text as encoding/json would marshal it: nil is
// null, and text that is not one JSON value gets encoding/json's error.
func rawTree(raw json.RawMessage) (any, error) {
	if raw == nil {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		if _, err := dec.Token(); err == io.EOF {
			return jsonNumbers(v), nil
		}
	}
	return jsonTree(raw)
}

// jsonTree is v through encoding/json: marshalled, then decoded with
// integers as int64 and other numbers as float64.
func jsonTree(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var t any
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	return jsonNumbers(t), nil
}

// jsonNumbers turns the json.Numbers of a decoded value into int64 when
// they are integers that int64 holds, float64 otherwise, in place.
func jsonNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64() // out of range: ±Inf, as JSON.parse gives
		return intOrFloat(f)
	case []any:
		for i, e := range t {
			t[i] = jsonNumbers(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = jsonNumbers(e)
		}
	}
	return v
}

// hasOption reports whether the comma-separated options of a json tag
// hold opt.
func hasOption(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}

// isEmptyValue reports whether omitempty leaves v out, as encoding/json
// decides it.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZeroValue reports whether omitzero leaves v out, as encoding/json
// decides it: by the value's IsZero method when it has one.
func isZeroValue(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

var (
	bytesType         = reflect.TypeFor[[]byte]()
	valueType         = reflect.TypeFor[Value]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	binaryCache       sync.Map // reflect.Type → bool
)

// mayHoldBinary reports whether values of t can contain a []byte that
// encoding/json would reach, or a Value, which may hold one. Interfaces
// may hold anything.
func mayHoldBinary(t reflect.Type) bool {
	if v, ok := binaryCache.Load(t); ok {
		return v.(bool)
	}
	seen := map[reflect.Type]bool{t: false}
	r := computeMayHoldBinary(t, seen)
	// A type seen before its turn counted as holding no []byte: right
	// when nothing reachable from t holds one, and otherwise another path
	// found it. So false is certain only when t's answer is false.
	for s, sr := range seen {
		if sr || !r {
			binaryCache.Store(s, sr)
		}
	}
	binaryCache.Store(t, r)
	return r
}

// computeMayHoldBinary is mayHoldBinary for one type, with the answers for
// the types it looked at in seen.
func computeMayHoldBinary(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == bytesType || t.Kind() != reflect.Interface && t.Implements(valueType) {
		return true
	}
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return false
	}
	holds := func(e reflect.Type) bool {
		if v, ok := binaryCache.Load(e); ok {
			return v.(bool)
		}
		if r, ok := seen[e]; ok {
			return r
		}
		seen[e] = false // until found otherwise; this breaks cycles
		r := computeMayHoldBinary(e, seen)
		seen[e] = r
		return r
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holds(t.Elem())
	case reflect.Map:
		return t.Key().Kind() == reflect.String && holds(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			// Embedded structs count even when unexported: encoding/json
			// flattens their exported fields.
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && holds(f.Type) {
				return true
			}
		}
	}
	return false
}
