package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// clientFrame is a frame as a client sends it: masked.
func clientFrame(b0 byte, payload []byte) []byte {
	return clientFrameLen(b0, payload, uint64(len(payload)), true)
}

// clientFrameLen builds a frame whose header announces n bytes.
func clientFrameLen(b0 byte, payload []byte, n uint64, masked bool) []byte {
	out := []byte{b0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch {
	case n < 126:
		out = append(out, m|byte(n))
	case n <= 0xFFFF:
		out = binary.BigEndian.AppendUint16(append(out, m|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, m|127), n)
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// parsed is what a frameParser made of some bytes.
type parsed struct {
	msgs     []string // "t:" or "b:" and the data
	controls []string // control frames it wrote: "op:payload"
	err      error
}

// parseAll feeds in to a new parser in chunks of size step (all at once
// when step is 0), as the reader would.
func parseAll(in []byte, step int, maxSize int64) parsed {
	var out parsed
	p := frameParser{maxSize: maxSize}
	p.control = func(op byte, payload []byte) {
		out.controls = append(out.controls, fmt.Sprintf("%x:%q", op, payload))
	}
	emit := func(m message) bool {
		kind := "t:"
		if m.binary {
			kind = "b:"
		}
		out.msgs = append(out.msgs, kind+string(m.data))
		return true
	}
	if step <= 0 {
		step = len(in) + 1
	}
	for len(in) > 0 && out.err == nil {
		chunk := in[:min(step, len(in))]
		in = in[len(chunk):]
		for len(chunk) > 0 {
			n, err := p.feed(chunk, emit)
			chunk = chunk[n:]
			if err != nil {
				out.err = err
				break
			}
		}
	}
	return out
}

func closeMsg(code int) string {
	return fmt.Sprintf("%x:%q", opClose, websocket.FormatCloseMessage(code, ""))
}

func TestFrameParser(t *testing.T) {
	text := func(s string) []byte { return clientFrame(0x80|opText, []byte(s)) }
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	big := strings.Repeat("x", 70000)
	tests := []struct {
		name     string
		in       []byte
		max      int64
		msgs     []string
		controls []string
		err      error
		code     int // of a *websocket.CloseError
	}{
		{name: "text", in: text("4hello"), msgs: []string{"t:4hello"}},
		{name: "binary", in: clientFrame(0x80|opBinary, []byte{0, 1, 2}), msgs: []string{"b:\x00\x01\x02"}},
		{name: "empty text", in: text(""), msgs: []string{"t:"}},
		{name: "16-bit length", in: text(strings.Repeat("y", 300)), msgs: []string{"t:" + strings.Repeat("y", 300)}},
		{name: "64-bit length", in: text(big), msgs: []string{"t:" + big}},
		{name: "several messages", in: cat(text("4a"), text("4b"), text("4c")), msgs: []string{"t:4a", "t:4b", "t:4c"}},
		{name: "fragments with a ping between", in: cat(clientFrame(opText, []byte("4ab")), clientFrame(0x80|opPing, []byte("p")), clientFrame(opContinuation, []byte("cd")), clientFrame(0x80|opContinuation, []byte("ef"))),
			msgs: []string{"t:4abcdef"}, controls: []string{fmt.Sprintf("%x:%q", opPong, "p")}},
		{name: "pong ignored", in: cat(clientFrame(0x80|opPong, nil), text("4x")), msgs: []string{"t:4x"}},
		{name: "exactly the limit", in: text("4abc"), max: 4, msgs: []string{"t:4abc"}},
		{name: "past the limit", in: text("4abcd"), max: 4, err: errTooLarge, controls: []string{closeMsg(websocket.CloseMessageTooBig)}},
		{name: "past the limit across fragments", in: cat(clientFrame(opText, []byte("4ab")), clientFrame(0x80|opContinuation, []byte("cd"))), max: 4, err: errTooLarge, controls: []string{closeMsg(websocket.CloseMessageTooBig)}},
		{name: "not masked", in: clientFrameLen(0x80|opText, []byte("4a"), 2, false), err: errProtocol},
		{name: "reserved bits", in: clientFrame(0xC0|opText, []byte("4a")), err: errProtocol},
		{name: "unknown opcode", in: clientFrame(0x80|0x3, []byte("4a")), err: errProtocol},
		{name: "long control frame", in: clientFrame(0x80|opPing, bytes.Repeat([]byte{1}, 126)), err: errProtocol},
		{name: "fragmented control frame", in: clientFrame(opPing, nil), err: errProtocol},
		{name: "continuation of nothing", in: clientFrame(0x80|opContinuation, []byte("a")), err: errProtocol},
		{name: "message inside a message", in: cat(clientFrame(opText, []byte("4a")), text("4b")), err: errProtocol},
		{name: "length with the top bit set", in: clientFrameLen(0x80|opText, nil, 1<<63, true), err: errProtocol},
		{name: "invalid UTF-8", in: text("4\xff"), err: ErrInvalidUTF8, controls: []string{closeMsg(websocket.CloseInvalidFramePayloadData)}},
		{name: "close without a code", in: clientFrame(0x80|opClose, nil), code: websocket.CloseNoStatusReceived, controls: []string{fmt.Sprintf("%x:%q", opClose, "")}},
		{name: "close with a code", in: clientFrame(0x80|opClose, websocket.FormatCloseMessage(1000, "bye")), code: 1000, controls: []string{closeMsg(1000)}},
		{name: "close of one byte", in: clientFrame(0x80|opClose, []byte{3}), err: errProtocol},
		{name: "close with a reserved code", in: clientFrame(0x80|opClose, websocket.FormatCloseMessage(1004, "")), err: errProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, then a byte at a time, then in 7-byte reads: the same.
			for _, step := range []int{0, 1, 7} {
				got := parseAll(tt.in, step, tt.max)
				if fmt.Sprint(got.msgs) != fmt.Sprint(tt.msgs) {
					t.Errorf("step %d: messages %q, want %q", step, got.msgs, tt.msgs)
				}
				var ce *websocket.CloseError
				switch {
				case tt.code != 0:
					if !errors.As(got.err, &ce) || ce.Code != tt.code {
						t.Errorf("step %d: error %v, want close code %d", step, got.err, tt.code)
					}
				case !errors.Is(got.err, tt.err):
					t.Errorf("step %d: error %v, want %v", step, got.err, tt.err)
				}
				wantCtl := tt.controls
				if tt.err == errProtocol {
					if len(got.controls) != 1 || !strings.HasPrefix(got.controls[0], fmt.Sprintf("%x:\"\\x03\\xea", opClose)) {
						t.Errorf("step %d: control frames %q, want one close 1002", step, got.controls)
					}
					continue
				}
				if fmt.Sprint(got.controls) != fmt.Sprint(wantCtl) {
					t.Errorf("step %d: control frames %q, want %q", step, got.controls, wantCtl)
				}
			}
		})
	}
}

// A message announced as large holds what arrived, not what was announced.
func TestFrameParserGrowsWithWhatArrives(t *testing.T) {
	p := frameParser{maxSize: 1 << 20, control: func(byte, []byte) {}}
	frame := clientFrameLen(0x80|opBinary, bytes.Repeat([]byte{7}, 100), 1<<20, true)
	if _, err := p.feed(frame, func(message) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if c := cap(p.msg); c > 1024 {
		t.Errorf("100 bytes of a 1 MiB frame hold a buffer of %d", c)
	}
}

func FuzzFrameParser(f *testing.F) {
	f.Add(clientFrame(0x80|opText, []byte("4hello")), uint8(3))
	f.Add(append(clientFrame(opText, []byte("4a")), clientFrame(0x80|opContinuation, []byte("b"))...), uint8(1))
	f.Add(clientFrame(0x80|opClose, websocket.FormatCloseMessage(1000, "")), uint8(0))
	f.Add(clientFrameLen(0x80|opBinary, nil, 1<<40, true), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		whole := parseAll(in, 0, 1<<16)
		split := parseAll(in, int(step), 1<<16)
		if fmt.Sprint(whole.msgs) != fmt.Sprint(split.msgs) || fmt.Sprint(whole.err) != fmt.Sprint(split.err) {
			t.Fatalf("whole: %q %v; in steps of %d: %q %v", whole.msgs, whole.err, step, split.msgs, split.err)
		}
	})
}
