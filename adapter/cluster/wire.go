package cluster

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/duplexio/duplex/adapter"
	"github.com/duplexio/duplex/parser"
)

// Accessors of generic trees, and the broadcast options and socket
// descriptions the nodes exchange.

// AsMap is v as a map, or nil.
func AsMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// AsSlice is v as an array, or nil.
func AsSlice(v any) []any { s, _ := v.([]any); return s }

// AsString is v as a string, or "".
func AsString(v any) string { s, _ := v.(string); return s }

// AsInt reads an integer: a whole number, or a string of digits (the
// Redis Streams adapter writes its "type" field so).
func AsInt(v any) (int64, bool) {
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

// AsStrings reads an array of strings; numbers become their decimal form
// (rooms may be numbers in Node) and other elements are skipped.
func AsStrings(v any) []string {
	s := AsSlice(v)
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

// Truthy reports whether v is true as JavaScript tests it.
func Truthy(v any) bool {
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

// StringsToAny converts s for a generic tree.
func StringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// Broadcast options on the wire: {rooms, except, flags}.

// EncodeOpts writes broadcast options as the Node adapters do:
// {rooms, except}, and flags when withFlags.
func EncodeOpts(opts *adapter.BroadcastOptions, withFlags bool) map[string]any {
	m := map[string]any{"rooms": []any{}, "except": []any{}}
	if opts == nil {
		if withFlags {
			m["flags"] = map[string]any{}
		}
		return m
	}
	m["rooms"] = StringsToAny(Dedupe(opts.Rooms))
	m["except"] = StringsToAny(Dedupe(opts.Except))
	if withFlags {
		m["flags"] = EncodeFlags(opts.Flags)
	}
	return m
}

// Dedupe drops repeated strings, keeping the first of each.
func Dedupe(s []string) []string {
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
func EncodeFlags(f adapter.Flags) map[string]any {
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

// DecodeOpts reads the broadcast options {rooms, except, flags} of another
// node; "local" is left out, as it concerns the sender only.
func DecodeOpts(v any) *adapter.BroadcastOptions {
	m := AsMap(v)
	opts := &adapter.BroadcastOptions{Rooms: AsStrings(m["rooms"]), Except: AsStrings(m["except"])}
	if f := AsMap(m["flags"]); f != nil {
		opts.Flags.Volatile = Truthy(f["volatile"])
		if c, ok := f["compress"].(bool); ok && !c {
			opts.Flags.NoCompress = true
		}
		if ms, ok := AsInt(f["timeout"]); ok && ms > 0 {
			opts.Flags.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	return opts
}

// Sockets on the wire, as fetchSockets answers describe them.

// EncodeSocket describes a socket as the Node adapters answer a
// fetchSockets request: {id, handshake, rooms, data}.
func EncodeSocket(s adapter.SocketInfo) (map[string]any, error) {
	data, err := parser.Normalize(s.Data)
	if err != nil {
		return nil, err
	}
	auth, err := parser.Normalize(s.Handshake.Auth)
	if err != nil {
		return nil, err
	}
	h := s.Handshake
	query, err := parser.Normalize(adapter.ValuesMap(h.Query()))
	if err != nil {
		return nil, err
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	return map[string]any{
		"id": s.ID,
		"handshake": map[string]any{
			"headers": h.Headers.Map(),
			"time":    h.Time(),
			"address": h.Address,
			"xdomain": h.XDomain,
			"secure":  h.Secure,
			"issued":  h.Issued,
			"url":     h.URL,
			"query":   query,
			"auth":    auth,
		},
		"rooms": StringsToAny(rooms),
		"data":  data,
	}, nil
}

// DecodeSocket reads a socket described by another node.
func DecodeSocket(v any) adapter.SocketInfo {
	m := AsMap(v)
	h := AsMap(m["handshake"])
	info := adapter.SocketInfo{ID: AsString(m["id"]), Rooms: AsStrings(m["rooms"]), Data: m["data"]}
	if info.Rooms == nil {
		info.Rooms = []string{}
	}
	info.Handshake = adapter.HandshakeFromMap(h)
	return info
}
