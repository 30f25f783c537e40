package adapter

import (
	"cmp"
	"encoding/json"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"
)

// queryPairs yields the name and value of each part of the query of uri
// (a request's path and query), as the URL standard's
// application/x-www-form-urlencoded parser reads them, which Node's
// URLSearchParams and so engine.io use: the query ends at "#", splits on
// "&" only, each part's name ends at its first "=" (a part without one is
// a name with an empty value), "+" is a space, well-formed percent escapes
// are decoded and others kept as they are, and bytes that are not UTF-8
// become U+FFFD.
func queryPairs(uri string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		_, raw, ok := strings.Cut(uri, "?")
		if !ok {
			return
		}
		raw, _, _ = strings.Cut(raw, "#")
		for raw != "" {
			var part string
			part, raw, _ = strings.Cut(raw, "&")
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			if !yield(formDecode(name), formDecode(value)) {
				return
			}
		}
	}
}

// formDecode decodes one name or value of a query as queryPairs says.
func formDecode(s string) string {
	if !strings.ContainsAny(s, "+%") && utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return decodeUTF8(b)
}

// decodeUTF8 decodes b as the encoding standard's UTF-8 decoder does:
// each maximal part of a malformed sequence becomes one U+FFFD.
func decodeUTF8(b []byte) string {
	var out strings.Builder
	out.Grow(len(b) + 8)
	var (
		cp           rune
		needed, seen int
		lower, upper byte = 0x80, 0xBF
	)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if needed == 0 {
			switch {
			case c <= 0x7F:
				out.WriteByte(c)
			case 0xC2 <= c && c <= 0xDF:
				needed, cp = 1, rune(c&0x1F)
			case 0xE0 <= c && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(c&0x0F)
			case 0xF0 <= c && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(c&0x07)
			default:
				out.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			cp, needed, seen, lower, upper = 0, 0, 0, 0x80, 0xBF
			out.WriteRune(utf8.RuneError)
			i-- // this byte starts afresh
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		if seen++; seen == needed {
			out.WriteRune(cp)
			cp, needed, seen = 0, 0, 0
		}
	}
	if needed != 0 {
		out.WriteRune(utf8.RuneError)
	}
	return out.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// queryJSON writes the query of uri as engine.io's parsed query
// (Object.fromEntries over URLSearchParams): an object of strings, each
// name's last value, the names in a JavaScript object's order: those that
// are array indices first, in ascending order, then the others in the
// order they first came.
func queryJSON(uri string) json.RawMessage {
	var names []string
	last := map[string]string{}
	for k, v := range queryPairs(uri) {
		if _, ok := last[k]; !ok {
			names = append(names, k)
		}
		last[k] = v
	}
	slices.SortStableFunc(names, func(x, y string) int {
		ix, okx := arrayIndex(x)
		iy, oky := arrayIndex(y)
		switch {
		case okx && oky:
			return cmp.Compare(ix, iy)
		case okx:
			return -1
		case oky:
			return 1
		}
		return 0
	})
	b := []byte{'{'}
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k) // a string: no error
		vb, _ := json.Marshal(last[k])
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}')
}

// arrayIndex reports whether s is an array index as JavaScript orders
// object keys by: the canonical decimal form of an integer from 0 to
// 2^32-2.
func arrayIndex(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, n <= 1<<32-2
}
