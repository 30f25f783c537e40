// Package cluster holds what the cluster adapters (adapter/redis,
// adapter/postgres, adapter/nats) share to speak the wire formats of the
// Node adapters.
//
// Node is the part of an adapter that does not depend on what carries
// the messages: local rooms and sockets (an adapter.Memory), the requests
// waiting for other nodes' answers (FetchSockets, broadcasts and
// server-side events with acknowledgements), the handling of other nodes'
// messages and, for a Transport that does not count the nodes itself,
// node discovery with heartbeats, as socket.io-adapter's ClusterAdapter
// and ClusterAdapterWithHeartbeat do. An adapter gives it a Transport and
// hands it the messages it receives, decoded into Ops (Decode).
//
// Emitter is the emitter of every cluster adapter: the selection of
// sockets and the operations, which an adapter's EmitterSend publishes in
// its own format.
//
// Messages are generic trees (maps, arrays, strings, numbers, booleans,
// nil and binary). Values that go out are first made generic
// (NormalizeArgs), then encoded (Encode, then EncodeAny, EncodeMsgpack or
// encoding/json); values that come in are decoded into generic trees
// (DecodeAny, DecodeJSON, DecodeMsgpack, tolerant of what notepack.io and
// @msgpack/msgpack write) and handed to handlers as parser.Values
// (Values). Decoders never panic on malformed input: they return an error
// wrapping ErrMalformed, and the accessors (AsMap, AsInt, ...) read what
// is there and ignore the rest.
package cluster
