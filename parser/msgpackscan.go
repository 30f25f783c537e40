package parser

import (
	"encoding/binary"
	"math"
)

// This file reads raw MessagePack bytes for MsgpackParser: mpReader checks
// and skips values without decoding them, the predicates below look at a
// value's first byte, and normalizeExt rewrites notepack's extension types
// into the forms vmihailenco/msgpack reads.

// MsgpackWellFormed reports whether b holds exactly one MessagePack value
// whose every length fits in b, nested no more than maxDepth deep. A
// decoder given bytes that pass allocates nothing for lengths the input
// does not hold: check messages from the network with it before decoding
// them with a general decoder.
func MsgpackWellFormed(b []byte, maxDepth int) bool {
	r := mpReader{b: b, maxDepth: maxDepth}
	return r.skip(0) && !r.err && r.i == len(b)
}

// mpReader walks MessagePack bytes without allocating, checking that every
// length fits in what is left.
type mpReader struct {
	b        []byte
	i        int
	maxDepth int
	err      bool
}

func (r *mpReader) need(n int) bool {
	if n < 0 || len(r.b)-r.i < n {
		r.err = true
		return false
	}
	return true
}

func (r *mpReader) byte() (byte, bool) {
	if !r.need(1) {
		return 0, false
	}
	c := r.b[r.i]
	r.i++
	return c, true
}

func (r *mpReader) be(n int) (uint64, bool) {
	if !r.need(n) {
		return 0, false
	}
	var v uint64
	for _, c := range r.b[r.i : r.i+n] {
		v = v<<8 | uint64(c)
	}
	r.i += n
	return v, true
}

func (r *mpReader) peekNil() bool { return r.i < len(r.b) && r.b[r.i] == 0xc0 }

func (r *mpReader) skipOne() { r.i++ }

func (r *mpReader) mapLen() (int, bool) { return r.containerLen(0x80, 0xde, 2) }

func (r *mpReader) arrayLen() (int, bool) { return r.containerLen(0x90, 0xdc, 1) }

// containerLen reads the header of a map or an array: fix is its fix
// form's high nibble, c16 its 16-bit form (the 32-bit one follows it), and
// each entry takes at least minBytes bytes, so a length the rest of the
// input cannot hold is refused before anything is allocated for it.
func (r *mpReader) containerLen(fix, c16 byte, minBytes int) (int, bool) {
	c, ok := r.byte()
	if !ok {
		return 0, false
	}
	var n uint64
	switch {
	case c&0xf0 == fix:
		n = uint64(c & 0x0f)
	case c == c16:
		n, ok = r.be(2)
	case c == c16+1:
		n, ok = r.be(4)
	default:
		return 0, false
	}
	if !ok || n > uint64(len(r.b)-r.i)/uint64(minBytes) {
		return 0, false
	}
	return int(n), true
}

func (r *mpReader) str() (string, bool) {
	c, ok := r.byte()
	if !ok {
		return "", false
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == 0xd9:
		n, ok = r.be(1)
	case c == 0xda:
		n, ok = r.be(2)
	case c == 0xdb:
		n, ok = r.be(4)
	default:
		return "", false
	}
	if !ok || n > uint64(len(r.b)-r.i) {
		r.err = true
		return "", false
	}
	s := string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s, true
}

// uint reads a non-negative integer, or a float that holds one.
func (r *mpReader) uint() (uint64, bool) {
	c, ok := r.byte()
	if !ok {
		return 0, false
	}
	switch {
	case c <= 0x7f:
		return uint64(c), true
	case c >= 0xcc && c <= 0xcf:
		return r.be(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3:
		v, ok := r.be(1 << (c - 0xd0))
		bits := 8 << (c - 0xd0)
		if !ok || (bits < 64 && v>>(bits-1) != 0) || (bits == 64 && v>>63 != 0) {
			return 0, false
		}
		return v, true
	case c == 0xcb:
		v, ok := r.be(8)
		f := math.Float64frombits(v)
		if !ok || f < 0 || f != math.Trunc(f) || f > maxAckID {
			return 0, false
		}
		return uint64(f), true
	}
	return 0, false
}

// skip moves past one value of any type, at the given depth.
func (r *mpReader) skip(depth int) bool {
	if depth > r.maxDepth {
		r.err = true
		return false
	}
	c, ok := r.byte()
	if !ok {
		return false
	}
	var n uint64
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return true
	case c&0xf0 == 0x80: // fixmap
		return r.skipN(uint64(c&0x0f)*2, depth)
	case c&0xf0 == 0x90: // fixarray
		return r.skipN(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0: // fixstr
		return r.advance(uint64(c & 0x1f))
	}
	switch c {
	case 0xc4, 0xd9: // bin 8, str 8
		n, ok = r.be(1)
		return ok && r.advance(n)
	case 0xc5, 0xda:
		n, ok = r.be(2)
		return ok && r.advance(n)
	case 0xc6, 0xdb:
		n, ok = r.be(4)
		return ok && r.advance(n)
	case 0xc7: // ext 8
		n, ok = r.be(1)
		return ok && r.advance(n+1)
	case 0xc8:
		n, ok = r.be(2)
		return ok && r.advance(n+1)
	case 0xc9:
		n, ok = r.be(4)
		return ok && r.advance(n+1)
	case 0xca, 0xce, 0xd2:
		return r.advance(4)
	case 0xcb, 0xcf, 0xd3:
		return r.advance(8)
	case 0xcc, 0xd0:
		return r.advance(1)
	case 0xcd, 0xd1:
		return r.advance(2)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return r.advance(1 + 1<<(c-0xd4))
	case 0xdc:
		n, ok = r.be(2)
		return ok && r.skipN(n, depth)
	case 0xdd:
		n, ok = r.be(4)
		return ok && r.skipN(n, depth)
	case 0xde:
		n, ok = r.be(2)
		return ok && r.skipN(n*2, depth)
	case 0xdf:
		n, ok = r.be(4)
		return ok && r.skipN(n*2, depth)
	}
	r.err = true // 0xc1 is never used
	return false
}

func (r *mpReader) advance(n uint64) bool {
	if n > uint64(len(r.b)-r.i) {
		r.err = true
		return false
	}
	r.i += int(n)
	return true
}

// skipN skips n values, one level deeper.
func (r *mpReader) skipN(n uint64, depth int) bool {
	if n > uint64(len(r.b)-r.i) { // every value takes a byte at least
		r.err = true
		return false
	}
	for ; n > 0; n-- {
		if !r.skip(depth + 1) {
			return false
		}
	}
	return true
}

// isUndefined reports whether v is JavaScript's undefined as notepack
// encodes it (fixext 1 of type 0).
func isUndefined(v []byte) bool { return len(v) == 3 && v[0] == 0xd4 && v[1] == 0 }

// isMap reports whether v starts with a map.
func isMap(v []byte) bool {
	return len(v) > 0 && (v[0]&0xf0 == 0x80 || v[0] == 0xde || v[0] == 0xdf)
}

// isStr reports whether v starts with a string.
func isStr(v []byte) bool {
	return len(v) > 0 && (v[0]&0xe0 == 0xa0 || v[0] == 0xd9 || v[0] == 0xda || v[0] == 0xdb)
}

// hasExt reports whether a well-formed value holds an extension type.
func hasExt(v []byte) bool {
	for _, c := range v {
		if c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8 {
			return true // maybe; normalizeExt walks properly
		}
	}
	return false
}

// normalizeExt rewrites the extension values notepack produces: type 0
// with fixext 1 is undefined (nil), with fixext 8 a Date (milliseconds as
// an int), with ext 8/16/32 an ArrayBuffer (bin). Other extensions are
// left as they are.
func normalizeExt(v []byte) []byte {
	out := make([]byte, 0, len(v))
	r := mpReader{b: v, maxDepth: 1 << 30}
	var walk func() bool
	walk = func() bool {
		start := r.i
		c, ok := r.byte()
		if !ok {
			return false
		}
		count := func(n uint64) bool {
			out = append(out, v[start:r.i]...)
			for ; n > 0; n-- {
				if !walk() {
					return false
				}
			}
			return true
		}
		switch {
		case c&0xf0 == 0x80:
			return count(uint64(c&0x0f) * 2)
		case c&0xf0 == 0x90:
			return count(uint64(c & 0x0f))
		case c == 0xdc || c == 0xdd:
			n, ok := r.be(2 << (c - 0xdc))
			return ok && count(n)
		case c == 0xde || c == 0xdf:
			n, ok := r.be(2 << (c - 0xde))
			return ok && count(n*2)
		case c == 0xd4 && r.i+2 <= len(v) && v[r.i] == 0:
			r.i += 2
			out = append(out, 0xc0)
			return true
		case c == 0xd7 && r.i+9 <= len(v) && v[r.i] == 0:
			hi := binary.BigEndian.Uint32(v[r.i+1:])
			lo := binary.BigEndian.Uint32(v[r.i+5:])
			ms := int64(int32(hi))*(1<<32) + int64(lo)
			r.i += 9
			out = append(out, 0xd3)
			out = binary.BigEndian.AppendUint64(out, uint64(ms))
			return true
		case c >= 0xc7 && c <= 0xc9:
			n, ok := r.be(1 << (c - 0xc7))
			if !ok || !r.need(int(n)+1) {
				return false
			}
			if v[r.i] != 0 {
				r.i += int(n) + 1
				out = append(out, v[start:r.i]...)
				return true
			}
			r.i++
			switch c {
			case 0xc7:
				out = append(out, 0xc4, byte(n))
			case 0xc8:
				out = append(out, 0xc5, byte(n>>8), byte(n))
			default:
				out = append(out, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			}
			out = append(out, v[r.i:r.i+int(n)]...)
			r.i += int(n)
			return true
		}
		r.i = start
		if !r.skip(0) {
			return false
		}
		out = append(out, v[start:r.i]...)
		return true
	}
	if !walk() {
		return v
	}
	return out
}
