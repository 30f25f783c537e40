// The Node side of the parser comparison: the official codecs doing what
// the Go benchmarks of package parser do, on the same packets, printed as
// one "name ns/op" line each. Run through compare-parsers.sh.
import * as eio from "engine.io-parser";
import { Encoder, Decoder } from "socket.io-parser";
import msgpack from "socket.io-msgpack-parser";

const text = '2["chat message","hello there, how are you?"]';
const message = { type: "message", data: text };
const event = { type: 2, nsp: "/", data: ["chat message", { user: "alice", text: "hello there", seq: 42 }] };
const binaryEvent = { type: 2, nsp: "/", data: ["upload", Buffer.from("x".repeat(1024))] };

// bench runs fn in rounds until about half a second has passed and returns
// the time per call, after a warm-up.
function bench(fn) {
  for (let i = 0; i < 20000; i++) fn();
  let n = 1000;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ns = Number(process.hrtime.bigint() - start);
    if (ns > 5e8) return ns / n;
    n *= 2;
  }
}

function decodeWith(D, msgs) {
  const d = new D();
  let got;
  d.on("decoded", (p) => { got = p; });
  return () => {
    for (const m of msgs) d.add(m);
    if (!got) throw new Error("not decoded");
    got = undefined;
  };
}

const sink = [];
const results = {
  AppendPacket: bench(() => eio.encodePacket(message, true, (s) => { sink[0] = s; })),
  DecodePacket: bench(() => { sink[0] = eio.decodePacket("4" + text); }),
  AppendPayload: bench(() => eio.encodePayload(Array(10).fill(message), (s) => { sink[0] = s; })),
  DecodePayload: (() => {
    let wire; eio.encodePayload(Array(10).fill(message), (s) => { wire = s; });
    return bench(() => { sink[0] = eio.decodePayload(wire); });
  })(),
  EncodeEvent: bench(() => { sink[0] = new Encoder().encode(event); }),
  EncodeBinaryEvent: bench(() => { sink[0] = new Encoder().encode(binaryEvent); }),
  DecodeEvent: bench(decodeWith(Decoder, new Encoder().encode(event))),
  DecodeBinaryEvent: bench(decodeWith(Decoder, new Encoder().encode(binaryEvent))),
  MsgpackEncodeEvent: bench(() => { sink[0] = new msgpack.Encoder().encode(event); }),
  MsgpackEncodeBinaryEvent: bench(() => { sink[0] = new msgpack.Encoder().encode(binaryEvent); }),
  MsgpackDecodeEvent: bench(decodeWith(msgpack.Decoder, new msgpack.Encoder().encode(event))),
  MsgpackDecodeBinaryEvent: bench(decodeWith(msgpack.Decoder, new msgpack.Encoder().encode(binaryEvent))),
};
for (const [name, ns] of Object.entries(results)) console.log(name, ns.toFixed(1));
