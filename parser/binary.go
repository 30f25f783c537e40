package parser

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// attachments are the binary messages of one packet, shared by its values.
type attachments struct{ bufs [][]byte }

// jsonValue is one JSON value of a decoded packet.
type jsonValue struct {
	raw []byte
	att *attachments
}

var placeholderKey = []byte(`"_placeholder"`)

// mayHoldPlaceholder reports whether raw may hold a placeholder object. The
// key can also be spelled with escapes ("\u005fplaceholder"), which
// JSON.parse reads as the same key, so any backslash counts too.
func mayHoldPlaceholder(raw []byte) bool {
	return bytes.Contains(raw, placeholderKey) || bytes.IndexByte(raw, '\\') >= 0
}

// Decode implements Value. Without attachments it is json.Unmarshal; with
// them, placeholders become the attachments' bytes first.
func (v jsonValue) Decode(dst any) error {
	if v.att == nil || !mayHoldPlaceholder(v.raw) {
		return json.Unmarshal(v.raw, dst)
	}
	if buf, ok := v.placeholder(); ok {
		// The common case, an argument that is an attachment, without the
		// round trip below.
		switch p := dst.(type) {
		case *[]byte:
			*p = buf
			return nil
		case *any:
			*p = buf
			return nil
		}
	}
	var generic any
	if err := json.Unmarshal(v.raw, &generic); err != nil {
		return err
	}
	generic, err := reconstruct(generic, v.att.bufs)
	if err != nil {
		return err
	}
	switch p := dst.(type) {
	case *any:
		*p = generic
		return nil
	case *map[string]any:
		if m, ok := generic.(map[string]any); *p == nil && (ok || generic == nil) {
			*p = m
			return nil
		}
	case *[]any:
		if l, ok := generic.([]any); ok || generic == nil {
			*p = l
			return nil
		}
	}
	// generic is this call's own: DecodeTree's copies are not needed,
	// but do no harm.
	return DecodeTree(generic, dst)
}

// placeholder returns the attachment that the value stands for, when the
// whole value is one well-formed placeholder.
func (v jsonValue) placeholder() ([]byte, bool) {
	raw := bytes.TrimSpace(v.raw)
	if len(raw) == 0 || raw[0] != '{' || bytes.IndexByte(raw, '\\') >= 0 {
		return nil, false
	}
	var ph struct {
		Placeholder bool     `json:"_placeholder"`
		Num         *float64 `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil {
		return nil, false
	}
	n := *ph.Num
	if n < 0 || n != float64(int(n)) || int(n) >= len(v.att.bufs) {
		return nil, false // the slow path reports it
	}
	return v.att.bufs[int(n)], true
}

// MarshalJSON returns the value as received, placeholders included.
func (v jsonValue) MarshalJSON() ([]byte, error) { return v.raw, nil }

// isPlaceholder reports whether m is {"_placeholder":true,"num":N} and
// returns N.
func isPlaceholder(m map[string]any) (num int, ok, valid bool) {
	if m["_placeholder"] != true {
		return 0, false, false
	}
	f, isNum := m["num"].(float64)
	if !isNum || f < 0 || f != float64(int(f)) {
		return 0, true, false
	}
	return int(f), true, true
}

// reconstruct replaces the placeholders in a decoded value with their
// attachments.
func reconstruct(v any, bufs [][]byte) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if num, ok, valid := isPlaceholder(t); ok {
			if !valid || num >= len(bufs) {
				return nil, invalid("illegal attachments")
			}
			return bufs[num], nil
		}
		for k, e := range t {
			r, err := reconstruct(e, bufs)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
	case []any:
		for i, e := range t {
			r, err := reconstruct(e, bufs)
			if err != nil {
				return nil, err
			}
			t[i] = r
		}
	}
	return v, nil
}

// checkPlaceholders makes sure every placeholder of a completed binary
// packet names one of its n attachments.
func checkPlaceholders(p *SocketPacket, n int) error {
	check := func(val Value) error {
		jv, ok := val.(jsonValue)
		if !ok || !mayHoldPlaceholder(jv.raw) {
			return nil
		}
		var generic any
		if err := json.Unmarshal(jv.raw, &generic); err != nil {
			return invalid("malformed JSON")
		}
		_, err := reconstruct(generic, jv.att.bufs[:n])
		return err
	}
	for _, a := range p.Args {
		if err := check(a); err != nil {
			return err
		}
	}
	if p.Payload != nil {
		return check(p.Payload)
	}
	return nil
}

// deconstruct replaces every []byte in v with a placeholder, appending the
// bytes to w.bufs (w.placeholders is set). Values that hold no []byte are
// returned unchanged; others are copied into maps and slices (structs
// through their JSON field names, by the walk Normalize also uses).
func deconstruct(v any, w *treeWalk) any {
	if w.depth >= maxSplitDepth {
		return v // a cycle, or absurd nesting: the JSON encoder reports it
	}
	w.depth++
	defer func() { w.depth-- }()
	switch t := v.(type) {
	case nil, string, bool, float64, float32, int, int64, int32, uint, uint64, uint32, json.Number, json.RawMessage:
		return v
	case []byte:
		return w.placeholder(t)
	case []any:
		var out []any
		for i, e := range t {
			d := deconstruct(e, w)
			if out == nil && !sameValue(d, e) {
				out = make([]any, len(t))
				copy(out, t[:i])
			}
			if out != nil {
				out[i] = d
			}
		}
		if out == nil {
			return v
		}
		return out
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			d := deconstruct(e, w)
			if out == nil && !sameValue(d, e) {
				out = make(map[string]any, len(t))
				for k2, e2 := range t {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = d
			}
		}
		if out == nil {
			return v
		}
		return out
	}
	out, _ := w.value(reflect.ValueOf(v)) // no error with placeholders
	return out
}

// sameValue reports whether deconstruct left a value as it was; only
// placeholders and copies differ, and those are maps or slices.
func sameValue(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return false
	}
	switch b.(type) {
	case []byte:
		return false
	}
	return true
}
