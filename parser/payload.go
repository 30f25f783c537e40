package parser

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// RecordSeparator joins the packets of a v4 polling payload.
const RecordSeparator = 0x1e

// maxLengthDigits bounds the length prefix of a v3 payload entry, as the
// reference parser does (it gives up past 310 digits); anything longer than
// an int can hold is rejected anyway.
const maxLengthDigits = 18

// AppendPayload appends the v4 polling payload of packets to dst: the
// packets joined by the record separator, binary messages as "b<base64>".
func AppendPayload(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, RecordSeparator)
		}
		if p.Binary {
			dst = AppendBase64Packet(dst, p, ProtocolV4)
		} else {
			dst = AppendPacket(dst, p)
		}
	}
	return dst
}

// DecodePayload decodes a v4 polling payload, calling fn for each packet in
// order. It stops at the first malformed packet and returns
// ErrInvalidPayload, after fn has seen the packets before it (the reference
// server does the same), or at the first error fn returns. Packets alias data
// except for base64 binary messages.
func DecodePayload(data []byte, fn func(Packet) error) error {
	for {
		i := bytes.IndexByte(data, RecordSeparator)
		chunk := data
		if i >= 0 {
			chunk = data[:i]
		}
		p, err := decodeTextPacket(chunk, ProtocolV4)
		if err != nil {
			return ErrInvalidPayload
		}
		if err := fn(p); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
		data = data[i+1:]
	}
}

// AppendPayloadV3 appends the v3 polling payload of packets to dst. When
// supportsBinary is true and a packet is binary, the whole payload takes the
// binary form and isBinary is true (the response's content type is then
// application/octet-stream); otherwise it is the text form, with binary
// messages as "b4<base64>".
func AppendPayloadV3(dst []byte, packets []Packet, supportsBinary bool) (out []byte, isBinary bool) {
	if supportsBinary && hasBinary(packets) {
		for _, p := range packets {
			dst = appendBinaryEntryV3(dst, p)
		}
		return dst, true
	}
	if len(packets) == 0 {
		return append(dst, "0:"...), false
	}
	for _, p := range packets {
		// The length prefix counts UTF-16 code units of the encoded packet;
		// reserve room for it, encode, then move the packet into place.
		start := len(dst)
		if p.Binary {
			dst = AppendBase64Packet(dst, p, ProtocolV3)
		} else {
			dst = AppendPacket(dst, p)
		}
		var prefix [24]byte
		pre := strconv.AppendInt(prefix[:0], int64(utf16Len(dst[start:])), 10)
		pre = append(pre, ':')
		dst = append(dst, pre...)
		copy(dst[start+len(pre):], dst[start:len(dst)-len(pre)])
		copy(dst[start:], pre)
	}
	return dst, false
}

func hasBinary(packets []Packet) bool {
	for _, p := range packets {
		if p.Binary {
			return true
		}
	}
	return false
}

// appendBinaryEntryV3 appends one entry of a v3 binary payload.
func appendBinaryEntryV3(dst []byte, p Packet) []byte {
	kind := byte(0) // a string entry
	if p.Binary {
		kind = 1
	}
	dst = append(dst, kind)
	var digits [24]byte
	// Both forms are the type (a digit or a byte) followed by the data.
	for _, d := range strconv.AppendInt(digits[:0], int64(1+len(p.Data)), 10) {
		dst = append(dst, d-'0')
	}
	dst = append(dst, 0xff)
	if p.Binary {
		return AppendBinaryPacketV3(dst, p)
	}
	return AppendPacket(dst, p)
}

// DecodePayloadV3 decodes a v3 polling payload: the binary form when
// binaryBody is true (a request body of type application/octet-stream),
// else the text form. It calls fn for each packet in order and stops at the
// first malformed entry with ErrInvalidPayload.
func DecodePayloadV3(data []byte, binaryBody bool, fn func(Packet) error) error {
	if binaryBody {
		return decodeBinaryPayloadV3(data, fn)
	}
	if len(data) == 0 {
		return ErrInvalidPayload
	}
	for len(data) > 0 {
		colon := bytes.IndexByte(data, ':')
		if colon <= 0 || colon > maxLengthDigits {
			return ErrInvalidPayload
		}
		n, ok := parseDigits(data[:colon])
		if !ok {
			return ErrInvalidPayload
		}
		data = data[colon+1:]
		size, ok := utf16Prefix(data, n)
		if !ok {
			return ErrInvalidPayload
		}
		if size > 0 {
			p, err := decodeTextPacket(data[:size], ProtocolV3)
			if err != nil {
				return ErrInvalidPayload
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		data = data[size:]
	}
	return nil
}

func decodeBinaryPayloadV3(data []byte, fn func(Packet) error) error {
	if len(data) == 0 {
		return ErrInvalidPayload
	}
	for len(data) > 0 {
		isString := data[0] == 0
		if data[0] > 1 {
			return ErrInvalidPayload
		}
		n, i := 0, 1
		for ; i < len(data) && data[i] != 0xff; i++ {
			if data[i] > 9 || i > maxLengthDigits {
				return ErrInvalidPayload
			}
			n = n*10 + int(data[i])
		}
		if i == 1 || i >= len(data) {
			return ErrInvalidPayload
		}
		data = data[i+1:]
		if n > len(data) || n == 0 {
			return ErrInvalidPayload
		}
		msg := data[:n]
		data = data[n:]
		var p Packet
		var err error
		if isString {
			p, err = decodeTextPacket(msg, ProtocolV3)
		} else {
			p, err = DecodePacketV3(msg, true)
		}
		if err != nil {
			return ErrInvalidPayload
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// parseDigits parses a non-empty run of ASCII digits.
func parseDigits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxLengthDigits {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// utf16Len counts the UTF-16 code units of UTF-8 text, as JavaScript's
// String.length does. An invalid byte counts as one unit (U+FFFD).
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			n++
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		b = b[size:]
	}
	return n
}

// utf16Prefix returns the byte length of the first units UTF-16 code units
// of b; ok is false when b is shorter or a surrogate pair would be split.
func utf16Prefix(b []byte, units int) (size int, ok bool) {
	for units > 0 {
		if size >= len(b) {
			return 0, false
		}
		if b[size] < utf8.RuneSelf {
			size++
			units--
			continue
		}
		r, n := utf8.DecodeRune(b[size:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if w > units {
			return 0, false
		}
		size += n
		units -= w
	}
	return size, true
}
