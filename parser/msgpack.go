package parser

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgpackParser is wire-compatible with socket.io-msgpack-parser: each
// packet is one binary message holding a MessagePack map with the keys
// "type", "nsp", "data" and "id". Binary values travel inline, so there
// are no attachments. Go values are encoded with their json struct tags.
// The zero value is ready to use.
type MsgpackParser struct {
	// MaxDepth bounds the nesting of arrays and maps in a payload; default
	// 32.
	MaxDepth int
}

var msgpackEncoders = sync.Pool{New: func() any {
	e := &msgpackEncoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.SetCustomStructTag("json")
	e.enc.UseCompactInts(true)
	return e
}}

type msgpackEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// Encode returns the one binary message that carries p. BINARY_EVENT and
// BINARY_ACK are sent as EVENT and ACK, as the reference does.
func (mp *MsgpackParser) Encode(p *SocketPacket) ([]Message, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	defer msgpackEncoders.Put(e)
	e.buf.Reset()
	typ := p.Type
	if typ == SocketPacketBinaryEvent || typ == SocketPacketBinaryAck {
		typ -= SocketPacketBinaryEvent - SocketPacketEvent
	}
	n := 2
	if p.Data != nil {
		n++
	}
	if p.HasID {
		n++
	}
	nsp := p.Namespace
	if nsp == "" {
		nsp = "/"
	}
	enc := e.enc
	err := enc.EncodeMapLen(n)
	if err == nil {
		_ = enc.EncodeString("type")
		_ = enc.EncodeUint(uint64(typ))
		_ = enc.EncodeString("nsp")
		err = enc.EncodeString(nsp)
	}
	if err == nil && p.Data != nil {
		_ = enc.EncodeString("data")
		var data any
		if data, err = msgpackData(p.Data); err == nil {
			err = enc.Encode(data)
		}
	}
	if err == nil && p.HasID {
		_ = enc.EncodeString("id")
		err = enc.EncodeUint(p.ID)
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, e.buf.Len())
	copy(out, e.buf.Bytes())
	if e.buf.Cap() > 64<<10 {
		e.buf = bytes.Buffer{}
	}
	return []Message{{Data: out, Binary: true}}, nil
}

// NewDecoder returns a decoder for one connection.
func (mp *MsgpackParser) NewDecoder() Decoder {
	d := &msgpackDecoder{maxDepth: mp.MaxDepth}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	return d
}

type msgpackDecoder struct{ maxDepth int }

// Add decodes one message, which must be binary.
func (d *msgpackDecoder) Add(data []byte, binary bool) (*SocketPacket, error) {
	if !binary {
		return nil, invalid("text message with the msgpack parser")
	}
	r := mpReader{b: data, maxDepth: d.maxDepth}
	n, ok := r.mapLen()
	if !ok {
		return nil, invalid("packet is not a map")
	}
	p := &SocketPacket{}
	var (
		hasType, hasNsp bool
		typ             uint64
		dataStart       = -1
		dataEnd         int
	)
	for i := 0; i < n; i++ {
		key, ok := r.str()
		if !ok {
			return nil, invalid("bad key")
		}
		switch key {
		case "type":
			v, ok := r.uint()
			if !ok || v > uint64(SocketPacketConnectError) {
				return nil, invalid("invalid packet type")
			}
			typ, hasType = v, true
		case "nsp":
			s, ok := r.str()
			if !ok {
				return nil, invalid("invalid namespace")
			}
			p.Namespace, hasNsp = s, true
		case "id":
			if r.peekNil() {
				r.skipOne()
				continue
			}
			v, ok := r.uint()
			if !ok || v > maxAckID {
				return nil, invalid("invalid packet id")
			}
			p.ID, p.HasID = v, true
		case "data":
			dataStart = r.i
			if !r.skip(0) {
				return nil, invalid("malformed payload")
			}
			dataEnd = r.i
		default:
			if !r.skip(0) {
				return nil, invalid("malformed packet")
			}
		}
	}
	if r.err || r.i != len(data) {
		return nil, invalid("malformed packet")
	}
	if !hasType {
		return nil, invalid("invalid packet type")
	}
	if !hasNsp {
		return nil, invalid("invalid namespace")
	}
	p.Type = SocketPacketType(typ)
	var payload []byte
	if dataStart >= 0 {
		payload = data[dataStart:dataEnd]
		if isUndefined(payload) {
			payload = nil
		}
	}
	if err := d.decodePayload(p, payload); err != nil {
		return nil, err
	}
	return p, nil
}

// decodePayload checks the payload against the packet type and splits it
// into values.
func (d *msgpackDecoder) decodePayload(p *SocketPacket, payload []byte) error {
	switch p.Type {
	case SocketPacketConnect:
		if payload == nil {
			return nil
		}
		if !isMap(payload) {
			return invalid("invalid payload")
		}
		p.Payload = newMsgpackValue(payload)
		return nil
	case SocketPacketDisconnect:
		if payload != nil {
			return invalid("invalid payload")
		}
		return nil
	case SocketPacketConnectError:
		if payload == nil || !(isMap(payload) || isStr(payload)) {
			return invalid("invalid payload")
		}
		p.Payload = newMsgpackValue(payload)
		return nil
	}
	r := mpReader{b: payload, maxDepth: 1 << 30}
	n, ok := r.arrayLen()
	if !ok {
		return invalid("invalid payload")
	}
	values := make([]Value, 0, n)
	for i := 0; i < n; i++ {
		start := r.i
		if !r.skip(0) {
			return invalid("malformed payload")
		}
		values = append(values, newMsgpackValue(payload[start:r.i]))
	}
	if p.Type == SocketPacketEvent {
		if len(values) == 0 {
			return invalid("missing event name")
		}
		var first any
		if values[0].Decode(&first) != nil {
			return invalid("bad event name")
		}
		var name string
		switch v := first.(type) {
		case string:
			name = v
		case int64:
			name = strconv.FormatInt(v, 10)
		case uint64:
			name = strconv.FormatUint(v, 10)
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return invalid("bad event name")
			}
			name = numberName(v)
		default:
			return invalid("event name is not a string")
		}
		if IsReservedEvent(name) {
			return invalid("reserved event name")
		}
		p.Event, p.Args = name, values[1:]
		return nil
	}
	p.Args = values
	return nil
}

// msgpackValue is one MessagePack-encoded value, well-formed and within
// the depth limit (the decoder checked), in the form vmihailenco/msgpack
// reads: the client's ArrayBuffer extension is turned into bin, undefined
// into nil and Date into milliseconds.
type msgpackValue struct{ raw []byte }

func newMsgpackValue(raw []byte) *msgpackValue {
	if hasExt(raw) {
		raw = normalizeExt(raw)
	}
	return &msgpackValue{raw: raw}
}

// Decode implements Value, with json struct tags and numbers decoded into
// interfaces as int64 (uint64 past its range) or float64.
func (v *msgpackValue) Decode(dst any) (err error) {
	defer func() {
		// The msgpack decoder panics on some destination types (an
		// embedded pointer to an unexported struct); the value is the
		// client's, so that is an error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("parser: cannot decode into %T: %v", dst, r)
		}
	}()
	dec := msgpack.NewDecoder(bytes.NewReader(v.raw))
	dec.SetCustomStructTag("json")
	dec.SetMapDecoder(decodeMapWide)
	switch p := dst.(type) {
	case *any:
		// Exact decoding keeps binary as []byte (loose decoding would make
		// it a string); the numbers are then widened.
		x, err := dec.DecodeInterface()
		if err != nil {
			return err
		}
		*p = widenNumbers(x)
		return nil
	case *[]any:
		if err := dec.Decode(p); err != nil {
			return err
		}
		widenNumbers(*p)
		return nil
	case *map[string]any:
		if err := dec.Decode(p); err != nil {
			return err
		}
		widenNumbers(*p)
		return nil
	}
	return dec.Decode(dst)
}

// decodeMapWide decodes a map held by an interface value as a
// map[string]any, binary values as []byte and numbers widened, whatever the
// depth.
func decodeMapWide(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]any, min(n, 32))
	for i := 0; i < n; i++ {
		k, err := d.DecodeInterface()
		if err != nil {
			return nil, err
		}
		val, err := d.DecodeInterface()
		if err != nil {
			return nil, err
		}
		m[fmt.Sprint(widenNumbers(k))] = widenNumbers(val)
	}
	return m, nil
}

// widenNumbers turns the sized numbers of a decoded value into int64
// (uint64 past its range) and float64, in place.
func widenNumbers(v any) any {
	switch t := v.(type) {
	case int8:
		return int64(t)
	case int16:
		return int64(t)
	case int32:
		return int64(t)
	case uint8:
		return int64(t)
	case uint16:
		return int64(t)
	case uint32:
		return int64(t)
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
	case float32:
		return float64(t)
	case []any:
		for i, e := range t {
			t[i] = widenNumbers(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = widenNumbers(e)
		}
	}
	return v
}
