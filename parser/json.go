package parser

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Default limits of JSONParser.
const (
	DefaultMaxAttachments = 10 // the reference decoder's limit
	DefaultMaxDepth       = 32
)

// maxAckID is the largest ack id accepted: JavaScript's largest safe
// integer, as clients count ids in doubles.
const maxAckID = 1<<53 - 1

// JSONParser is the default Socket.IO parser: packets as text, JSON
// payloads, and binary values sent as separate binary messages in the
// place of {"_placeholder":true,"num":N} objects. The zero value is ready to
// use.
type JSONParser struct {
	// MaxAttachments bounds the binary attachments of one packet; default
	// 10.
	MaxAttachments int
	// MaxDepth bounds the nesting of arrays and objects in a payload;
	// default 32.
	MaxDepth int
}

// Encode returns the text message of p followed by its binary attachments.
func (jp *JSONParser) Encode(p *SocketPacket) ([]Message, error) {
	typ, data := p.Type, p.Data
	b := make([]byte, 0, 64)
	if data != nil && (typ == SocketPacketEvent || typ == SocketPacketAck) {
		if out, ok := appendFastJSON(jp.header(b, typ, 0, p), data, 0); ok {
			return []Message{{Data: out}}, nil
		}
	}
	st := treeWalk{placeholders: true}
	if data != nil && (typ == SocketPacketEvent || typ == SocketPacketAck) {
		data = deconstruct(data, &st)
		if len(st.bufs) > 0 {
			typ += SocketPacketBinaryEvent - SocketPacketEvent // EVENT→BINARY_EVENT, ACK→BINARY_ACK
		}
	}
	b = jp.header(b[:0], typ, len(st.bufs), p)
	if data != nil {
		var err error
		if b, err = appendJSON(b, data); err != nil {
			return nil, err
		}
	}
	msgs := make([]Message, 1, 1+len(st.bufs))
	msgs[0] = Message{Data: b}
	for _, buf := range st.bufs {
		msgs = append(msgs, Message{Data: buf, Binary: true})
	}
	return msgs, nil
}

// header appends a packet's type, attachment count, namespace and id.
func (jp *JSONParser) header(b []byte, typ SocketPacketType, attachments int, p *SocketPacket) []byte {
	b = append(b, '0'+byte(typ))
	if typ == SocketPacketBinaryEvent || typ == SocketPacketBinaryAck {
		b = strconv.AppendInt(b, int64(attachments), 10)
		b = append(b, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		b = append(b, p.Namespace...)
		b = append(b, ',')
	}
	if p.HasID {
		b = strconv.AppendUint(b, p.ID, 10)
	}
	return b
}

// appendJSON appends v as JSON, without the HTML escaping of json.Marshal
// (JSON.stringify does none).
func appendJSON(dst []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode adds a newline
}

// NewDecoder returns a decoder for one connection.
func (jp *JSONParser) NewDecoder() Decoder {
	d := &jsonDecoder{maxAttachments: jp.MaxAttachments, maxDepth: jp.MaxDepth}
	if d.maxAttachments <= 0 {
		d.maxAttachments = DefaultMaxAttachments
	}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	return d
}

type jsonDecoder struct {
	maxAttachments int
	maxDepth       int
	pending        *SocketPacket // a binary packet waiting for attachments
	att            *attachments
	want           int
}

func (d *jsonDecoder) Add(data []byte, binary bool) (*SocketPacket, error) {
	if binary {
		if d.pending == nil {
			return nil, invalid("binary data outside a binary packet")
		}
		d.att.bufs = append(d.att.bufs, data)
		if len(d.att.bufs) < d.want {
			return nil, nil
		}
		p := d.pending
		d.pending, d.att = nil, nil
		if err := checkPlaceholders(p, d.want); err != nil {
			return nil, err
		}
		return p, nil
	}
	if d.pending != nil {
		return nil, invalid("text data while binary attachments are expected")
	}
	p, att, n, err := d.decodeString(data)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		d.pending, d.att, d.want = p, att, n
		return nil, nil
	}
	return p, nil
}

// decodeString decodes the text form of a packet. n is its number of
// binary attachments still to come.
func (d *jsonDecoder) decodeString(s []byte) (p *SocketPacket, att *attachments, n int, err error) {
	if len(s) == 0 || s[0] < '0' || s[0] > '0'+byte(SocketPacketBinaryAck) {
		return nil, nil, 0, invalid("unknown packet type")
	}
	p = &SocketPacket{Type: SocketPacketType(s[0] - '0'), Namespace: "/"}
	i := 1
	if p.Type == SocketPacketBinaryEvent || p.Type == SocketPacketBinaryAck {
		dash := bytes.IndexByte(s[i:], '-')
		if dash <= 0 || dash > 4 {
			return nil, nil, 0, invalid("illegal attachments")
		}
		n, _ = strconv.Atoi(string(s[i : i+dash]))
		if n < 1 || !allDigits(s[i:i+dash]) {
			return nil, nil, 0, invalid("illegal attachments")
		}
		if n > d.maxAttachments {
			return nil, nil, 0, invalid("too many attachments")
		}
		i += dash + 1
	}
	if i < len(s) && s[i] == '/' {
		end := bytes.IndexByte(s[i:], ',')
		if end < 0 {
			p.Namespace, i = string(s[i:]), len(s)
		} else {
			p.Namespace, i = string(s[i:i+end]), i+end+1
		}
	}
	if i < len(s) && isDigit(s[i]) {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		id, err := strconv.ParseUint(string(s[start:i]), 10, 64)
		if err != nil || id > maxAckID {
			return nil, nil, 0, invalid("ack id out of range")
		}
		p.ID, p.HasID = id, true
	}
	if n > 0 {
		att = &attachments{}
	}
	if err := d.decodePayload(p, s[i:], att); err != nil {
		return nil, nil, 0, err
	}
	// The packet reaches handlers as EVENT or ACK, attachments in place.
	if p.Type == SocketPacketBinaryEvent || p.Type == SocketPacketBinaryAck {
		p.Type -= SocketPacketBinaryEvent - SocketPacketEvent
	}
	return p, att, n, nil
}

// decodePayload checks the JSON payload against the packet type and splits
// it into values.
func (d *jsonDecoder) decodePayload(p *SocketPacket, payload []byte, att *attachments) error {
	if len(payload) == 0 {
		switch p.Type {
		case SocketPacketConnect, SocketPacketDisconnect:
			return nil
		}
		return invalid("missing payload")
	}
	if p.Type == SocketPacketDisconnect {
		return invalid("unexpected payload")
	}
	if !json.Valid(payload) {
		return invalid("malformed JSON")
	}
	elems, err := splitJSON(payload, d.maxDepth)
	if err != nil {
		return err
	}
	switch p.Type {
	case SocketPacketConnect:
		if payload[0] != '{' {
			return invalid("CONNECT payload must be an object")
		}
		p.Payload = jsonValue{raw: payload, att: att}
	case SocketPacketConnectError:
		if payload[0] != '{' && payload[0] != '"' {
			return invalid("CONNECT_ERROR payload must be an object or a string")
		}
		p.Payload = jsonValue{raw: payload, att: att}
	case SocketPacketEvent, SocketPacketBinaryEvent:
		if payload[0] != '[' || len(elems) == 0 {
			return invalid("EVENT payload must be an array starting with the event name")
		}
		name, ok := eventName(elems[0])
		if !ok {
			return invalid("bad event name")
		}
		p.Event = name
		if reservedEvents[p.Event] {
			return invalid("reserved event name")
		}
		p.Args = jsonValues(elems[1:], att)
	case SocketPacketAck, SocketPacketBinaryAck:
		if payload[0] != '[' {
			return invalid("ACK payload must be an array")
		}
		p.Args = jsonValues(elems, att)
	}
	return nil
}

// eventName reads an event name: a string, or a number, which the
// reference accepts and names by its decimal text, as JavaScript does.
func eventName(raw []byte) (string, bool) {
	if name, ok := fastEventName(raw); ok {
		return name, true
	}
	if raw[0] == '"' {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			return "", false
		}
		return name, true
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return "", false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", false
	}
	return numberName(f), true
}

// numberName formats f as JavaScript's String(f) does for the numbers
// JSON can carry.
func numberName(f float64) string {
	if f == 0 {
		return "0" // -0 too
	}
	if a := math.Abs(f); a >= 1e21 || a < 1e-6 {
		s := strconv.FormatFloat(f, 'g', -1, 64) // 1e+21, 1e-07
		return strings.NewReplacer("e+0", "e+", "e-0", "e-").Replace(s)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func jsonValues(elems [][]byte, att *attachments) []Value {
	if len(elems) == 0 {
		return nil
	}
	vals := make([]Value, len(elems))
	for i, e := range elems {
		vals[i] = jsonValue{raw: e, att: att}
	}
	return vals
}

// splitJSON checks the nesting depth of valid JSON and, for an array,
// returns its elements.
func splitJSON(b []byte, maxDepth int) ([][]byte, error) {
	var elems [][]byte
	depth, start := 0, -1
	var str stringScanner
	isArray := b[0] == '['
	for i, c := range b {
		if str.inString {
			str.skip(c)
			continue
		}
		if isArray && depth == 1 && start < 0 && c != ']' && c != ',' && !isSpace(c) {
			start = i // an element begins
		}
		if str.skip(c) {
			continue
		}
		switch c {
		case '[', '{':
			depth++
			if depth > maxDepth {
				return nil, invalid("payload nested too deeply")
			}
		case ']', '}':
			if isArray && depth == 1 && start >= 0 {
				elems = append(elems, bytes.TrimSpace(b[start:i]))
				start = -1
			}
			depth--
		case ',':
			if isArray && depth == 1 {
				elems = append(elems, bytes.TrimSpace(b[start:i]))
				start = -1
			}
		}
	}
	return elems, nil
}

// stringScanner follows the strings of valid JSON byte by byte.
type stringScanner struct{ inString, escaped bool }

// skip reports whether c belongs to a string, its quotes included.
func (s *stringScanner) skip(c byte) bool {
	if !s.inString {
		s.inString = c == '"'
		return s.inString
	}
	switch {
	case s.escaped:
		s.escaped = false
	case c == '\\':
		s.escaped = true
	case c == '"':
		s.inString = false
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
