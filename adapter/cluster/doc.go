// Package cluster holds what the cluster adapters (adapter/redis,
// adapter/postgres) share to speak the wire formats of the Node adapters:
// the generic trees their messages are made of (maps, arrays, strings,
// numbers, booleans, nil and binary), their JSON and MessagePack codecs
// (tolerant of what notepack.io and @msgpack/msgpack write), and the
// broadcast options and socket descriptions nodes exchange.
//
// Values that go out are first made generic (NormalizeArgs, then
// EncodeAny, EncodeMsgpack or encoding/json); values that come in are
// decoded into generic trees (DecodeAny, DecodeJSON, DecodeMsgpack) and
// handed to handlers as parser.Values (Values). Decoders never panic on
// malformed input: they return an error wrapping ErrMalformed, and the
// accessors (AsMap, AsInt, ...) read what is there and ignore the rest.
package cluster
