package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// NormalizeArgs makes each of args a generic tree with parser.Normalize,
// as the Node adapters send arguments: their JSON form, binary as is. An
// error names the argument.
func NormalizeArgs(args []any) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		n, err := parser.Normalize(a)
		if err != nil {
			return nil, fmt.Errorf("cluster: argument %d: %w", i, err)
		}
		out[i] = n
	}
	return out, nil
}

// value is one argument received from another node, held as a generic
// tree until a handler asks for it in a Go type.
type value struct{ v any }

// Decode implements parser.Value: as json.Unmarshal would decode the
// value's JSON form, except that binary decodes into []byte wherever it
// lands, into an any at any depth too (parser.DecodeTree).
func (v value) Decode(dst any) error {
	if p, ok := dst.(*any); ok {
		*p = deepCopy(v.v)
		return nil
	}
	return parser.DecodeTree(v.v, dst)
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

// Values wraps generic arguments as parser.Values.
func Values(args []any) []parser.Value {
	out := make([]parser.Value, len(args))
	for i, a := range args {
		out[i] = value{a}
	}
	return out
}
