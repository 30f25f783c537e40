package natsadapter

import (
	"fmt"

	"github.com/duplexio/duplex/adapter/cluster"
)

// encode writes op o of node uid in namespace nsp as a ClusterAdapter
// message in MessagePack.
func encode(o *cluster.Op, uid, nsp string) ([]byte, error) {
	m := cluster.Encode(o, uid, nsp)
	if m == nil {
		return nil, fmt.Errorf("natsadapter: no message for op kind %d", o.Kind)
	}
	b, err := cluster.EncodeMsgpack(m)
	if err != nil {
		return nil, fmt.Errorf("natsadapter: encode: %w", err)
	}
	return b, nil
}

// decodeMessage reads a ClusterAdapter message in MessagePack: its
// namespace and its op. Malformed input gives an error wrapping
// cluster.ErrMalformed.
func decodeMessage(b []byte) (nsp string, o *cluster.Op, err error) {
	v, err := cluster.DecodeMsgpack(b)
	if err != nil {
		return "", nil, err
	}
	m := cluster.AsMap(v)
	if m == nil {
		return "", nil, fmt.Errorf("%w: message is %T, not a map", cluster.ErrMalformed, v)
	}
	nsp, ok := m["nsp"].(string)
	if !ok {
		return "", nil, fmt.Errorf("%w: message without a namespace", cluster.ErrMalformed)
	}
	if o = cluster.Decode(m); o == nil {
		return "", nil, fmt.Errorf("%w: message of unknown type %v", cluster.ErrMalformed, m["type"])
	}
	return nsp, o, nil
}

// isAnswer reports whether an op of kind k answers one node's request.
func isAnswer(k cluster.Kind) bool {
	switch k {
	case cluster.OpFetchResponse, cluster.OpSSEResponse, cluster.OpClientCount, cluster.OpAck:
		return true
	}
	return false
}

// subject is where op o goes: the requesting node's subject for an
// answer, the room's subject for a broadcast without acks to one room
// that has one, the namespace's subject otherwise.
func (s subjects) subject(o *cluster.Op) string {
	switch {
	case isAnswer(o.Kind) && o.To != "":
		return s.node(o.To)
	case o.Kind == cluster.OpBroadcast && o.RequestID == "" && o.Opts != nil &&
		len(o.Opts.Rooms) == 1 && hasRoomSubject(o.Opts.Rooms[0]):
		return s.room(o.Opts.Rooms[0])
	}
	return s.all()
}
