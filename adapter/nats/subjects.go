package natsadapter

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxToken is the longest token Token writes as an escaped name; longer
// ones become a hash, which keeps subjects under the server's control
// line limit (4 KiB by default).
const maxToken = 200

// socketIDLen is the length of a socket id: rooms of that length are
// taken for sockets' own rooms and get no subject of their own.
const socketIDLen = 20

// Token escapes a namespace or room name into one subject token: bytes
// in [A-Za-z0-9_-/:] stay as they are, any other byte (dots, wildcards,
// whitespace, '%', non-ASCII) is written %XX in upper-case hex, and the
// empty name is "%". An escaped name longer than 200 bytes is replaced
// by "#" and the hex of the first 16 bytes of the name's SHA-256: two
// long names may then share a token, which only costs deliveries that
// the receiving nodes filter out.
func Token(name string) string {
	if name == "" {
		return "%"
	}
	n := 0
	for i := 0; i < len(name); i++ {
		if plain(name[i]) {
			n++
		} else {
			n += 3
		}
	}
	if n > maxToken {
		sum := sha256.Sum256([]byte(name))
		return "#" + hex.EncodeToString(sum[:16])
	}
	if n == len(name) {
		return name
	}
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, n)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if plain(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', digits[c>>4], digits[c&15])
		}
	}
	return string(b)
}

// plain reports whether c stays as it is in a token.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == '/' || c == ':'
}

// subjects are the subjects of one namespace.
type subjects struct {
	base string // <prefix>.<nsp>.
}

func newSubjects(prefix, nsp string) subjects {
	return subjects{base: prefix + "." + Token(nsp) + "."}
}

// all is the subject every node of the namespace subscribes to.
func (s subjects) all() string { return s.base + "all" }

// room is the subject of the broadcasts to room alone.
func (s subjects) room(room string) string { return s.base + "room." + Token(room) }

// node is the subject of the answers for node uid.
func (s subjects) node(uid string) string { return s.base + "node." + Token(uid) }

// hasRoomSubject reports whether a broadcast to room alone goes to its
// room subject: any room but those taken for socket ids.
func hasRoomSubject(room string) bool { return len(room) != socketIDLen }
