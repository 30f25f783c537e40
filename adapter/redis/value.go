package redisadapter

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// normalize turns a Go value into a generic tree: what encoding/json
// would make of it, except that []byte stays binary. Values received from
// clients or from other nodes (parser.Value) are decoded first.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, int64, float64, []byte:
		return v, nil
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t), nil
		}
		return t, nil
	case float32:
		return float64(t), nil
	case parser.Value:
		var out any
		if err := t.Decode(&out); err != nil {
			return nil, err
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return normalizeValue(reflect.ValueOf(v))
}

var (
	bytesType         = reflect.TypeFor[[]byte]()
	valueType         = reflect.TypeFor[parser.Value]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// normalizeValue is normalize for values that need reflection. Types that
// cannot hold binary go through encoding/json, which gives them exactly
// the JSON form; the others are walked.
func normalizeValue(rv reflect.Value) (any, error) {
	if !rv.IsValid() {
		return nil, nil
	}
	t := rv.Type()
	if t.Implements(valueType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && rv.IsNil() {
			return nil, nil
		}
		return normalize(rv.Interface().(parser.Value))
	}
	if !mayHoldBinary(t, 0) {
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return nil, err
		}
		return decodeJSON(b)
	}
	if t == bytesType {
		if rv.IsNil() {
			return nil, nil
		}
		return rv.Bytes(), nil
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		return normalizeValue(rv.Elem())
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return b, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := normalizeValue(rv.Index(i))
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
			e, err := normalizeValue(it.Value())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = e
		}
		return out, nil
	case reflect.Struct:
		out := make(map[string]any, t.NumField())
		if err := normalizeFields(rv, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return rv.Interface(), nil
}

// normalizeFields copies a struct's fields under their JSON names.
func normalizeFields(rv reflect.Value, out map[string]any) error {
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
				if err := normalizeFields(fv, out); err != nil {
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
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		e, err := normalizeValue(fv)
		if err != nil {
			return err
		}
		out[name] = e
	}
	return nil
}

// mayHoldBinary reports whether values of t can hold a []byte (or a
// parser.Value, which may) that encoding/json would reach.
func mayHoldBinary(t reflect.Type, depth int) bool {
	if depth > 16 {
		return true // deep or recursive: walk it
	}
	if t == bytesType || t.Implements(valueType) {
		return true
	}
	if t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return mayHoldBinary(t.Elem(), depth+1)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && mayHoldBinary(t.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && mayHoldBinary(f.Type, depth+1) {
				return true
			}
		}
	}
	return false
}

// normalizeArgs normalizes each of args.
func normalizeArgs(args []any) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		n, err := normalize(a)
		if err != nil {
			return nil, fmt.Errorf("redisadapter: argument %d: %w", i, err)
		}
		out[i] = n
	}
	return out, nil
}

// Value is one argument received from another node, held as a generic
// tree until a handler asks for it in a Go type.
type value struct{ v any }

// Decode implements parser.Value: as json.Unmarshal would decode the
// value's JSON form; binary decodes into []byte (into an any too, at the
// top level).
func (v value) Decode(dst any) error {
	switch p := dst.(type) {
	case *any:
		*p = deepCopy(v.v)
		return nil
	case *[]byte:
		if b, ok := v.v.([]byte); ok {
			*p = bytes.Clone(b)
			return nil
		}
	}
	b, err := json.Marshal(v.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// MarshalJSON encodes the value as JSON (binary as base64).
func (v value) MarshalJSON() ([]byte, error) { return json.Marshal(v.v) }

// EncodeMsgpack encodes the value as MessagePack.
func (v value) EncodeMsgpack(enc *msgpack.Encoder) error { return enc.Encode(v.v) }

func deepCopy(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []byte:
		return bytes.Clone(t)
	}
	return v
}

// values wraps generic arguments as parser.Values.
func values(args []any) []parser.Value {
	out := make([]parser.Value, len(args))
	for i, a := range args {
		out[i] = value{a}
	}
	return out
}
