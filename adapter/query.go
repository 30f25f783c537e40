package adapter

import (
	"encoding/json"
	"iter"
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
	var out strings.Builder
	for _, r := range string(b) { // each byte that is not UTF-8 a U+FFFD
		out.WriteRune(r)
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
// name's last value, the names in the order they first came.
func queryJSON(uri string) json.RawMessage {
	var names []string
	last := map[string]string{}
	for k, v := range queryPairs(uri) {
		if _, ok := last[k]; !ok {
			names = append(names, k)
		}
		last[k] = v
	}
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
