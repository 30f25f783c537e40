package redisadapter

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
	"github.com/vmihailenco/msgpack/v5"
)

// This file turns Go values into the generic trees the Node adapters
// exchange (maps, arrays, strings, numbers, booleans, nil and binary) and
// back. Values that go out are first made generic (normalize), then
// encoded as JSON or MessagePack; values that come in are decoded into
// generic trees, handed to handlers as Values and to local sockets as
// packet data.

// maxDepth bounds the nesting of decoded values.
const maxDepth = 64

var errMalformed = errors.New("redisadapter: malformed message")

// decodeMsgpack decodes MessagePack as notepack.io and @msgpack/msgpack
// write it: maps as map[string]any, arrays as []any, bin as []byte,
// integers as int64 (uint64 past its range), floats as float64. The
// extensions notepack uses are read as the values they stand for:
// undefined as nil, Date as milliseconds, ArrayBuffer as []byte; a
// MessagePack timestamp becomes the ISO string JSON.stringify would give.
func decodeMsgpack(b []byte) (any, error) {
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
		return nil, errMalformed
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
		return nil, errMalformed
	}
	if d.i >= len(d.b) {
		return nil, errMalformed
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
	return nil, errMalformed // 0xc1 is never used
}

func (d *mpDecoder) arrayN(n uint64, depth int) (any, error) {
	if n > uint64(len(d.b)-d.i) { // each element takes a byte at least
		return nil, errMalformed
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
		return nil, errMalformed
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

// encodeMsgpack encodes a generic tree.
func encodeMsgpack(v any) ([]byte, error) {
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

// decodeJSON decodes JSON into a generic tree, integers as int64 and other
// numbers as float64.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return fixNumbers(v), nil
}

func fixNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i, e := range t {
			t[i] = fixNumbers(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = fixNumbers(e)
		}
	}
	return v
}

// decodeAny decodes a message that is JSON when it starts with "{" and
// MessagePack otherwise, as the Node adapters tell them apart.
func decodeAny(b []byte) (any, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeJSON(b)
	}
	return decodeMsgpack(b)
}

// encodeAny encodes a generic tree as JSON, or as MessagePack when it
// holds binary, which JSON cannot carry.
func encodeAny(v any) ([]byte, error) {
	if hasBinary(v) {
		return encodeMsgpack(v)
	}
	return json.Marshal(v)
}

// hasBinary reports whether a generic tree holds a []byte.
func hasBinary(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range t {
			if hasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

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

// Accessors of generic trees.

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asSlice(v any) []any { s, _ := v.([]any); return s }

func asString(v any) string { s, _ := v.(string); return s }

func asInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case uint64:
		return int64(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<63 {
			return int64(t), true
		}
	case string: // the Streams adapter's "type" field
		i, err := strconv.ParseInt(t, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func asStrings(v any) []string {
	s := asSlice(v)
	out := make([]string, 0, len(s))
	for _, e := range s {
		switch t := e.(type) {
		case string:
			out = append(out, t)
		case int64, float64: // rooms may be numbers in Node
			out = append(out, fmt.Sprint(t))
		}
	}
	return out
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int64:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	}
	return true
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// Broadcast options on the wire: {rooms, except, flags}.

func encodeOpts(opts *adapter.BroadcastOptions, withFlags bool) map[string]any {
	m := map[string]any{"rooms": []any{}, "except": []any{}}
	if opts == nil {
		if withFlags {
			m["flags"] = map[string]any{}
		}
		return m
	}
	m["rooms"] = stringsToAny(dedupe(opts.Rooms))
	m["except"] = stringsToAny(dedupe(opts.Except))
	if withFlags {
		m["flags"] = encodeFlags(opts.Flags)
	}
	return m
}

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := make(map[string]struct{}, len(s))
	out := make([]string, 0, len(s))
	for _, e := range s {
		if _, ok := seen[e]; !ok {
			seen[e] = struct{}{}
			out = append(out, e)
		}
	}
	return out
}

// encodeFlags writes only the flags that are set: the Node adapters test
// "volatile" for presence.
func encodeFlags(f adapter.Flags) map[string]any {
	m := map[string]any{}
	if f.Volatile {
		m["volatile"] = true
	}
	if f.NoCompress {
		m["compress"] = false
	}
	if f.Local {
		m["local"] = true
	}
	if f.Timeout > 0 {
		m["timeout"] = f.Timeout.Milliseconds()
	}
	return m
}

func decodeOpts(v any) *adapter.BroadcastOptions {
	m := asMap(v)
	opts := &adapter.BroadcastOptions{Rooms: asStrings(m["rooms"]), Except: asStrings(m["except"])}
	if f := asMap(m["flags"]); f != nil {
		opts.Flags.Volatile = truthy(f["volatile"])
		if c, ok := f["compress"].(bool); ok && !c {
			opts.Flags.NoCompress = true
		}
		if ms, ok := asInt(f["timeout"]); ok && ms > 0 {
			opts.Flags.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return opts
}

// Sockets on the wire, as fetchSockets answers describe them.

func encodeSocket(s adapter.SocketInfo) (map[string]any, error) {
	data, err := normalize(s.Data)
	if err != nil {
		return nil, err
	}
	auth, err := normalize(s.Handshake.Auth)
	if err != nil {
		return nil, err
	}
	h := s.Handshake
	headers := make(map[string]any, len(h.Headers))
	for k, vs := range h.Headers {
		k = strings.ToLower(k)
		switch {
		case len(vs) == 1:
			headers[k] = vs[0]
		case k == "set-cookie":
			headers[k] = stringsToAny(vs)
		case len(vs) > 1:
			headers[k] = strings.Join(vs, ", ")
		}
	}
	query := make(map[string]any, len(h.Query))
	for k, vs := range h.Query {
		if len(vs) == 1 {
			query[k] = vs[0]
		} else {
			query[k] = stringsToAny(vs)
		}
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	return map[string]any{
		"id": s.ID,
		"handshake": map[string]any{
			"headers": headers,
			"time":    h.Time,
			"address": h.Address,
			"xdomain": h.XDomain,
			"secure":  h.Secure,
			"issued":  h.Issued,
			"url":     h.URL,
			"query":   query,
			"auth":    auth,
		},
		"rooms": stringsToAny(rooms),
		"data":  data,
	}, nil
}

func decodeSocket(v any) adapter.SocketInfo {
	m := asMap(v)
	h := asMap(m["handshake"])
	info := adapter.SocketInfo{ID: asString(m["id"]), Rooms: asStrings(m["rooms"]), Data: m["data"]}
	if info.Rooms == nil {
		info.Rooms = []string{}
	}
	hs := &info.Handshake
	hs.Time = asString(h["time"])
	hs.Address = asString(h["address"])
	hs.XDomain = truthy(h["xdomain"])
	hs.Secure = truthy(h["secure"])
	hs.Issued, _ = asInt(h["issued"])
	hs.URL = asString(h["url"])
	hs.Auth = h["auth"]
	hs.Headers = make(map[string][]string)
	for k, e := range asMap(h["headers"]) {
		hs.Headers[k] = stringList(e)
	}
	hs.Query = make(url.Values)
	for k, e := range asMap(h["query"]) {
		hs.Query[k] = stringList(e)
	}
	return info
}

// stringList reads a header or query value: a string or a list of them.
func stringList(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		return asStrings(t)
	case nil:
		return nil
	}
	return []string{fmt.Sprint(v)}
}
