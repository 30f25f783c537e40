package parser

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The fast path of JSONParser.Encode: the values events and
// acknowledgements carry most often (strings, numbers, booleans, nil,
// []any, values received as they came) are written without reflection,
// byte for byte as encoding/json writes them with HTML escaping off.
// Anything else, binary included, takes the general path.

// maxFastDepth bounds the nesting the fast path follows before handing
// the value to the general path.
const maxFastDepth = 16

// appendFastJSON appends v as JSON. ok is false, and dst's contents past
// its length undefined, when v holds a type the fast path leaves to
// encoding/json.
func appendFastJSON(dst []byte, v any, depth int) (out []byte, ok bool) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return appendJSONString(dst, t), true
	case bool:
		if t {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case float64:
		return appendJSONFloat(dst, t, 64)
	case float32:
		return appendJSONFloat(dst, float64(t), 32)
	case int:
		return strconv.AppendInt(dst, int64(t), 10), true
	case int64:
		return strconv.AppendInt(dst, t, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(t), 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(t), 10), true
	case uint64:
		return strconv.AppendUint(dst, t, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(t), 10), true
	case jsonValue:
		if t.att != nil || t.raw == nil {
			return dst, false // placeholders: the general path decides
		}
		return appendCompactJSON(dst, t.raw)
	case json.RawMessage:
		if t == nil {
			return append(dst, "null"...), true
		}
		if !json.Valid(t) {
			return dst, false // encoding/json reports it
		}
		return appendCompactJSON(dst, t)
	case []any:
		if t == nil {
			return append(dst, "null"...), true
		}
		if depth >= maxFastDepth {
			return dst, false
		}
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = appendFastJSON(dst, e, depth+1); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
	return dst, false
}

// appendJSONFloat writes f as encoding/json does: the shortest decimal
// form, with an exponent only below 1e-6 and from 1e21 on. NaN and the
// infinities, which JSON cannot carry, are left to encoding/json's error.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		if bits == 64 && (a < 1e-6 || a >= 1e21) || bits == 32 && (float32(a) < 1e-6 || float32(a) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 → 1e-7, as JavaScript writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string the way encoding/json does
// without HTML escaping: invalid UTF-8 as U+FFFD, U+2028 and U+2029
// escaped, control characters in their short forms where JSON has one.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendCompactJSON appends valid JSON without the white space outside
// its strings, as encoding/json writes a json.Marshaler's output.
func appendCompactJSON(dst, raw []byte) ([]byte, bool) {
	var str stringScanner
	start := 0
	for i, c := range raw {
		if !str.skip(c) && isSpace(c) {
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...), true
}

// fastEventName reads a JSON string without escapes that is valid UTF-8,
// the form nearly every event name has; ok is false for any other.
func fastEventName(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range inner {
		switch {
		case c == '\\' || c == '"':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(inner) {
		return "", false // json.Unmarshal writes U+FFFD in its place
	}
	return string(inner), true
}
