// A Node Socket.IO server on one of the official Redis adapters, driven
// by the Go tests of adapter/redis over HTTP. It serves the namespaces
// "/", "/chat" and the dynamic ones matching /^\/dyn-\d+$/. Their sockets
// answer "join" (join a room, then ack) and carry {node, name} as data;
// their server-side handler of "hello" records the event and answers with
// the node's name. It also hosts an @socket.io/redis-emitter for the
// emitter tests. Commands take the namespace in "nsp" (default "/").
//
//   REDIS_URL=redis://127.0.0.1:6379 ADAPTER=pubsub|sharded|streams NAME=n \
//     node node-server.mjs
//
// It prints {"port": N} on its first line once it listens.
import { Server } from "socket.io";
import { serveControlled } from "../../../internal/clustertest/node-control.mjs";
import { createClient } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { Emitter } from "@socket.io/redis-emitter";

const url = process.env.REDIS_URL;
const kind = process.env.ADAPTER || "pubsub";
const name = process.env.NAME || "node";
const recovery = Number(process.env.RECOVERY_MS || 0);

const quiet = (c) => { c.on("error", () => {}); return c; };
const pub = quiet(createClient({ url }));
await pub.connect();

let adapter;
if (kind === "streams") {
  adapter = createStreamsAdapter(pub, { blockTimeInMs: 200 });
} else {
  const sub = quiet(pub.duplicate());
  await sub.connect();
  adapter = kind === "sharded" ? createShardedAdapter(pub, sub) : createAdapter(pub, sub);
}
const emitter = new Emitter(pub);

const opts = { adapter };
if (recovery > 0) {
  opts.connectionStateRecovery = { maxDisconnectionDuration: recovery, skipMiddlewares: true };
}
serveControlled({ Server, opts, name, emitter });
