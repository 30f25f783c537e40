package parser

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzDecodePacket(f *testing.F) {
	for _, c := range packetCases {
		if c.version == ProtocolV4 {
			f.Add([]byte(c.wire), c.frame)
		}
	}
	f.Add([]byte("bAQI"), false)
	f.Add([]byte("7"), false)
	f.Fuzz(func(t *testing.T, data []byte, frame bool) {
		p, err := DecodePacket(data, frame)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v is not ErrInvalidPacket", err)
			}
			return
		}
		if !p.Type.Valid() {
			t.Fatalf("decoded invalid type %d", p.Type)
		}
		switch {
		case frame:
			if !p.Binary || p.Type != PacketMessage || !bytes.Equal(p.Data, data) {
				t.Fatalf("binary frame decoded as %s", fmtPacket(p))
			}
			return
		case p.Binary:
			// Base64 has more than one spelling; the bytes must survive.
			enc := AppendBase64Packet(nil, p, ProtocolV4)
			q, err := DecodePacket(enc, false)
			if err != nil || !samePacket(p, q) {
				t.Fatalf("%q → %s → %q → %s, %v", data, fmtPacket(p), enc, fmtPacket(q), err)
			}
		default:
			if enc := AppendPacket(nil, p); !bytes.Equal(enc, data) {
				t.Fatalf("%q → %s → %q", data, fmtPacket(p), enc)
			}
		}
	})
}

func FuzzDecodePacketV3(f *testing.F) {
	for _, c := range packetCases {
		if c.version == ProtocolV3 {
			f.Add([]byte(c.wire), c.frame)
		}
	}
	f.Add([]byte("b7AQID"), false)
	f.Add([]byte("\x07"), true)
	f.Fuzz(func(t *testing.T, data []byte, frame bool) {
		p, err := DecodePacketV3(data, frame)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v is not ErrInvalidPacket", err)
			}
			return
		}
		if !p.Type.Valid() {
			t.Fatalf("decoded invalid type %d", p.Type)
		}
		switch {
		case frame:
			if enc := AppendBinaryPacketV3(nil, p); !bytes.Equal(enc, data) {
				t.Fatalf("%q → %s → %q", data, fmtPacket(p), enc)
			}
		case p.Binary:
			enc := AppendBase64Packet(nil, p, ProtocolV3)
			q, err := DecodePacketV3(enc, false)
			if err != nil || !samePacket(p, q) {
				t.Fatalf("%q → %s → %q → %s, %v", data, fmtPacket(p), enc, fmtPacket(q), err)
			}
			// The same packet as a binary frame.
			q, err = DecodePacketV3(AppendBinaryPacketV3(nil, p), true)
			if err != nil || !samePacket(p, q) {
				t.Fatalf("%s as a frame → %s, %v", fmtPacket(p), fmtPacket(q), err)
			}
		default:
			if enc := AppendPacket(nil, p); !bytes.Equal(enc, data) {
				t.Fatalf("%q → %s → %q", data, fmtPacket(p), enc)
			}
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, c := range v4PayloadCases {
		f.Add([]byte(c.wire))
	}
	f.Add([]byte("4a\x1e7"))
	f.Add([]byte("\x1e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		packets, err := collect(func(fn func(Packet) error) error { return DecodePayload(data, fn) })
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v is not ErrInvalidPayload", err)
			}
			return
		}
		if len(packets) == 0 {
			t.Fatalf("%q decoded to no packets without an error", data)
		}
		enc := AppendPayload(nil, packets)
		again, err := collect(func(fn func(Packet) error) error { return DecodePayload(enc, fn) })
		if err != nil {
			t.Fatalf("%q → %s → %q: %v", data, fmtPackets(packets), enc, err)
		}
		checkPackets(t, "round trip", again, packets)
		if !bytes.Contains(data, []byte{'b'}) && !bytes.Equal(enc, data) {
			// Without base64 the encoding is unique.
			t.Fatalf("%q re-encoded as %q", data, enc)
		}
	})
}

func FuzzDecodePayloadV3(f *testing.F) {
	for _, c := range v3TextPayloadCases {
		f.Add([]byte(c.wire), false)
	}
	for _, c := range v3BinaryPayloadCases {
		f.Add([]byte(c.wire), true)
	}
	for _, c := range v3BinaryDecodeOnly {
		f.Add([]byte(c.wire), true)
	}
	f.Add([]byte("999999999:4a"), false)
	f.Add([]byte("2:4😀"), false)
	f.Add([]byte("\x00\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff4"), true)
	f.Fuzz(func(t *testing.T, data []byte, binaryBody bool) {
		packets, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3(data, binaryBody, fn) })
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v is not ErrInvalidPayload", err)
			}
			return
		}
		for _, supportsBinary := range []bool{false, true} {
			enc, isBinary := AppendPayloadV3(nil, packets, supportsBinary)
			again, err := collect(func(fn func(Packet) error) error { return DecodePayloadV3(enc, isBinary, fn) })
			if err != nil {
				t.Fatalf("%q → %s → %q (binary %v): %v", data, fmtPackets(packets), enc, isBinary, err)
			}
			checkPackets(t, "round trip", again, packets)
		}
	})
}

func FuzzSocketDecoder(f *testing.F) {
	for _, c := range socketCases {
		f.Add([]byte(c.wire[0].data), []byte{1, 2, 3}, uint8(len(c.wire)-1))
	}
	f.Add([]byte(`51-["a",{"\u005fplaceholder":true,"num":0}]`), []byte{1}, uint8(1))
	f.Add([]byte(`52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`), []byte{}, uint8(2))
	f.Add([]byte(`51-["a",{"_placeholder":true,"num":5}]`), []byte{1}, uint8(1))
	f.Add([]byte(`2["connect"]`), []byte(nil), uint8(0))
	f.Add([]byte(nestedArrays(40)), []byte(nil), uint8(0))
	f.Add([]byte(`29007199254740992["a"]`), []byte(nil), uint8(0))
	f.Add([]byte(`2/admin,1["a",{"b":[1,"\u00e9",null,1e400]}]`), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, data, attachment []byte, count uint8) {
		// The text packet, then up to 11 attachments.
		frames := []frame{text(string(data))}
		for i := range int(count % 12) {
			frames = append(frames, frame{string(attachment) + strings.Repeat("x", i), true})
		}
		var jp JSONParser
		d := jp.NewDecoder()
		var p *SocketPacket
		for i, fr := range frames {
			q, err := d.Add([]byte(fr.data), fr.binary)
			if err != nil {
				if !errors.Is(err, ErrInvalidSocketPacket) {
					t.Fatalf("error %v is not ErrInvalidSocketPacket", err)
				}
				return
			}
			if q != nil {
				if i < len(frames)-1 {
					// More attachments than the packet asked for: the next
					// one must be refused.
					if _, err := d.Add([]byte(frames[i+1].data), true); !errors.Is(err, ErrInvalidSocketPacket) {
						t.Fatalf("extra attachment accepted: %v", err)
					}
				}
				p = q
				break
			}
		}
		if p == nil {
			return // attachments still expected
		}
		if p.Type > SocketPacketConnectError || p.Namespace == "" || p.Namespace[0] != '/' || p.ID > maxAckID || (p.Event != "" && p.Type != SocketPacketEvent) {
			t.Fatalf("decoded %+v", p)
		}
		if IsReservedEvent(p.Event) {
			t.Fatalf("reserved event %q accepted", p.Event)
		}
		socketRoundTrip(t, p)
	})
}

// socketRoundTrip encodes p again and checks that decoding the result gives
// the same packet.
func socketRoundTrip(t *testing.T, p *SocketPacket) {
	args, ok := decodeAll(p.Args)
	if !ok {
		return // a value JSON can't hold in Go (1e400): decoded lazily, not here
	}
	var payload any
	if p.Payload != nil {
		if err := p.Payload.Decode(&payload); err != nil {
			return
		}
	}
	out := &SocketPacket{Type: p.Type, Namespace: p.Namespace, ID: p.ID, HasID: p.HasID}
	switch p.Type {
	case SocketPacketConnect, SocketPacketConnectError:
		out.Data = payload
	case SocketPacketEvent:
		out.Data = append([]any{p.Event}, args...)
	case SocketPacketAck:
		out.Data = append([]any{}, args...)
	}
	msgs, err := (&JSONParser{}).Encode(out)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", out, err)
	}
	d := (&JSONParser{}).NewDecoder()
	var q *SocketPacket
	for _, m := range msgs {
		if q != nil {
			t.Fatalf("%v: packet complete before its last message", framesOf(msgs))
		}
		if q, err = d.Add(m.Data, m.Binary); err != nil {
			t.Fatalf("decoding %v: %v", framesOf(msgs), err)
		}
	}
	if q == nil {
		t.Fatalf("decoding %v gave no packet", framesOf(msgs))
	}
	if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID || q.Event != p.Event {
		t.Fatalf("round trip %v: got %+v, want %+v", framesOf(msgs), q, p)
	}
	args2, ok := decodeAll(q.Args)
	if !ok || !reflect.DeepEqual(args, args2) {
		t.Fatalf("round trip %v: args %#v, want %#v", framesOf(msgs), args2, args)
	}
	if (q.Payload == nil) != (p.Payload == nil) {
		t.Fatalf("round trip %v: payload %v, want %v", framesOf(msgs), q.Payload, p.Payload)
	}
	if q.Payload != nil {
		var payload2 any
		if err := q.Payload.Decode(&payload2); err != nil || !reflect.DeepEqual(payload, payload2) {
			t.Fatalf("round trip %v: payload %#v, want %#v (%v)", framesOf(msgs), payload2, payload, err)
		}
	}
}

func decodeAll(vals []Value) ([]any, bool) {
	out := make([]any, len(vals))
	for i, v := range vals {
		if err := v.Decode(&out[i]); err != nil {
			return nil, false
		}
	}
	return out, true
}
