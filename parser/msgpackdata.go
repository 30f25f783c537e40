package parser

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// This file prepares Go values for the msgpack encoder, so that they are
// sent as the JSON parser sends them: a value with its own JSON (a
// MarshalJSON method: time.Time, a socket's Handshake) is sent as that
// JSON, where the msgpack encoder would write its struct fields; a Value
// (received from a client or another node) as what it holds.

// msgpackData returns data, or a copy of it in which each argument that
// holds such a value is replaced by its Normalize tree, the objects of
// such values keeping their keys' order.
func msgpackData(data any) (any, error) {
	l, ok := data.([]any)
	if !ok {
		if needsTree(data, 0) {
			w := treeWalk{ordered: true}
			return w.any(data)
		}
		return data, nil
	}
	var out []any
	for i, e := range l {
		if !needsTree(e, 0) {
			continue
		}
		if out == nil {
			out = slices.Clone(l)
		}
		w := treeWalk{ordered: true}
		n, err := w.any(e)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	if out == nil {
		return data, nil
	}
	return out, nil
}

// needsTree reports whether v holds a value the msgpack encoder would not
// write as encoding/json does.
func needsTree(v any, depth int) bool {
	switch t := v.(type) {
	case nil, string, bool, int, int64, float64, []byte, int32, uint, uint64, uint32, float32:
		return false
	case []any:
		if depth > maxSplitDepth {
			return true // Normalize reports a cycle
		}
		for _, e := range t {
			if needsTree(e, depth+1) {
				return true
			}
		}
		return false
	case map[string]any:
		if depth > maxSplitDepth {
			return true
		}
		for _, e := range t {
			if needsTree(e, depth+1) {
				return true
			}
		}
		return false
	}
	return typeNeedsTree(reflect.TypeOf(v))
}

var (
	msgpackEncoderType   = reflect.TypeFor[msgpack.CustomEncoder]()
	msgpackMarshalerType = reflect.TypeFor[msgpack.Marshaler]()
	needsTreeCache       sync.Map // reflect.Type → bool
)

// typeNeedsTree reports whether values of t may hold a value with its own
// JSON or a Value; an interface inside may hold anything.
func typeNeedsTree(t reflect.Type) bool {
	if v, ok := needsTreeCache.Load(t); ok {
		return v.(bool)
	}
	r := computeNeedsTree(t, map[reflect.Type]bool{})
	needsTreeCache.Store(t, r)
	return r
}

// computeNeedsTree is typeNeedsTree, with visiting the types being looked
// at, which breaks cycles.
func computeNeedsTree(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		return false
	}
	visiting[t] = true
	defer delete(visiting, t)
	if t.Kind() == reflect.Interface {
		return true
	}
	pt := reflect.PointerTo(t)
	if t.Implements(msgpackEncoderType) || t.Implements(msgpackMarshalerType) ||
		pt.Implements(msgpackEncoderType) || pt.Implements(msgpackMarshalerType) {
		return false // it knows how it wants to be sent
	}
	if t.Implements(valueType) || t.Implements(marshalerType) || pt.Implements(marshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return computeNeedsTree(t.Elem(), visiting)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && f.Tag.Get("json") != "-" && computeNeedsTree(f.Type, visiting) {
				return true
			}
		}
	}
	return false
}

// orderedObject is a JSON object with its keys in order, which the msgpack
// encoder writes in that order.
type orderedObject struct {
	keys []string
	vals []any
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (o *orderedObject) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(o.keys)); err != nil {
		return err
	}
	for i, k := range o.keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.Encode(o.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// orderedTree is v through encoding/json, as jsonTree, with its objects
// as orderedObjects.
func orderedTree(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return orderedValue(dec)
}

// orderedValue reads one value of well-formed JSON (encoding/json wrote
// it) from dec.
func orderedValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			l := []any{}
			for dec.More() {
				e, err := orderedValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, e)
			}
			_, err := dec.Token() // ]
			return l, err
		}
		o := &orderedObject{}
		var index map[string]int
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			e, err := orderedValue(dec)
			if err != nil {
				return nil, err
			}
			key := k.(string)
			if i, ok := index[key]; ok { // as JSON.parse: the last, in the first's place
				o.vals[i] = e
				continue
			}
			if index == nil {
				index = map[string]int{}
			}
			index[key] = len(o.keys)
			o.keys = append(o.keys, key)
			o.vals = append(o.vals, e)
		}
		_, err := dec.Token() // }
		return o, err
	case json.Number:
		return jsonNumbers(t), nil
	}
	return tok, nil
}
