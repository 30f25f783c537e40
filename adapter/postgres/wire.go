package postgresadapter

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
	info.Handshake = adapter.Handshake{
		Headers: adapter.HeaderFromMap(asMap(h["headers"])),
		Address: asString(h["address"]),
		XDomain: truthy(h["xdomain"]),
		Secure:  truthy(h["secure"]),
		URL:     asString(h["url"]),
		Auth:    h["auth"],
	}
	info.Handshake.Issued, _ = asInt(h["issued"])
	return info
}
