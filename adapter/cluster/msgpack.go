package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// This file turns Go values into the generic trees the Node adapters
// exchange (maps, arrays, strings, numbers, booleans, nil and binary) and
// back. Values that go out are first made generic (parser.Normalize), then
// encoded as JSON or MessagePack; values that come in are decoded into
// generic trees, handed to handlers as Values and to local sockets as
// packet data.

// maxDepth bounds the nesting of decoded values.
const maxDepth = 64

// ErrMalformed is returned, maybe wrapped, for a message that cannot be
// decoded.
var ErrMalformed = errors.New("cluster: malformed message")

// DecodeMsgpack decodes MessagePack as notepack.io and @msgpack/msgpack
// write it: maps as map[string]any, arrays as []any, bin as []byte,
// integers as int64 (uint64 past its range), floats as float64. The
// extensions notepack uses are read as the values they stand for:
// undefined as nil, Date as milliseconds, ArrayBuffer as []byte; a
// MessagePack timestamp becomes the ISO string JSON.stringify would give.
func DecodeMsgpack(b []byte) (any, error) {
	d := mpDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

type mpDecoder struct {
	b []byte
	i int
}

func (d *mpDecoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)-d.i) {
		return nil, ErrMalformed
	}
	out := d.b[d.i : d.i+int(n)]
	d.i += int(n)
	return out, nil
}

func (d *mpDecoder) uint(n int) (uint64, error) {
	b, err := d.take(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *mpDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, ErrMalformed
	}
	if d.i >= len(d.b) {
		return nil, ErrMalformed
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xf0 == 0x80:
		return d.mapN(uint64(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayN(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		b, err := d.take(uint64(c & 0x1f))
		return string(b), err
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		return bytes.Clone(b), err
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uint(1 << (c - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.ext(n)
	case 0xca:
		v, err := d.uint(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return math.Float64frombits(v), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if v > math.MaxInt64 {
			return v, nil
		}
		return int64(v), nil
	case 0xd0:
		v, err := d.uint(1)
		return int64(int8(v)), err
	case 0xd1:
		v, err := d.uint(2)
		return int64(int16(v)), err
	case 0xd2:
		v, err := d.uint(4)
		return int64(int32(v)), err
	case 0xd3:
		v, err := d.uint(8)
		return int64(v), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1 << (c - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		return string(b), err
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayN(n, depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapN(n, depth)
	}
	return nil, ErrMalformed // 0xc1 is never used
}

func (d *mpDecoder) arrayN(n uint64, depth int) (any, error) {
	if n > uint64(len(d.b)-d.i) { // each element takes a byte at least
		return nil, ErrMalformed
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *mpDecoder) mapN(n uint64, depth int) (any, error) {
	if n > uint64(len(d.b)-d.i)/2 {
		return nil, ErrMalformed
	}
	out := make(map[string]any, n)
	for ; n > 0; n-- {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			key = fmt.Sprint(k)
		}
		out[key] = v
	}
	return out, nil
}

// ext reads an extension value of n data bytes.
func (d *mpDecoder) ext(n uint64) (any, error) {
	t, err := d.uint(1)
	if err != nil {
		return nil, err
	}
	data, err := d.take(n)
	if err != nil {
		return nil, err
	}
	switch int8(t) {
	case 0:
		switch {
		case n == 1: // notepack's undefined
			return nil, nil
		case n == 8 && d.b[d.i-int(n)-2] == 0xd7: // notepack's Date
			hi := int64(int32(binary.BigEndian.Uint32(data)))
			lo := int64(binary.BigEndian.Uint32(data[4:]))
			return hi*(1<<32) + lo, nil
		}
		return bytes.Clone(data), nil // notepack's ArrayBuffer
	case -1: // timestamp
		var ts time.Time
		switch n {
		case 4:
			ts = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
		case 8:
			v := binary.BigEndian.Uint64(data)
			ts = time.Unix(int64(v&(1<<34-1)), int64(v>>34))
		case 12:
			ts = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
		default:
			return nil, nil
		}
		return ts.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, nil
}

// EncodeMsgpack encodes a generic tree as MessagePack: integers as small
// as they fit, structs by their json tags, map keys sorted, []byte as bin.
func EncodeMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetCustomStructTag("json")
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeJSON decodes a JSON message into a generic tree, integers as
// int64 and other numbers as float64, as parser.Normalize has them.
func DecodeJSON(b []byte) (any, error) { return parser.Normalize(json.RawMessage(b)) }

// DecodeAny decodes a message that is JSON when it starts with "{" and
// MessagePack otherwise, as the Node adapters tell them apart.
func DecodeAny(b []byte) (any, error) {
	if len(b) > 0 && b[0] == '{' {
		return DecodeJSON(b)
	}
	return DecodeMsgpack(b)
}

// EncodeAny encodes a generic tree as JSON, or as MessagePack when it
// holds binary, which JSON cannot carry.
func EncodeAny(v any) ([]byte, error) {
	if HasBinary(v) {
		return EncodeMsgpack(v)
	}
	return json.Marshal(v)
}

// HasBinary reports whether a generic tree holds a []byte.
func HasBinary(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range t {
			if HasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if HasBinary(e) {
				return true
			}
		}
	}
	return false
}
