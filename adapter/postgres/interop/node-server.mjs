// A Node Socket.IO server on @socket.io/postgres-adapter, driven by the Go
// tests of adapter/postgres over HTTP. It serves the namespaces "/",
// "/chat" and the dynamic ones matching /^\/dyn-\d+$/. Their sockets
// answer "join" (join a room, then ack) and carry {node, name} as data;
// their server-side handler of "hello" records the event and answers with
// the node's name. It also hosts an @socket.io/postgres-emitter for the
// emitter tests. Commands take the namespace in "nsp" (default "/").
//
//   PG_URL=postgres://postgres@127.0.0.1:5432/postgres NAME=n \
//     HEARTBEAT_MS=200 HEARTBEAT_TIMEOUT_MS=1000 node node-server.mjs
//
// It prints {"port": N} on its first line once it listens.
import pg from "pg";
import { Server } from "socket.io";
import { serveControlled } from "../../../internal/clustertest/node-control.mjs";
import { createAdapter } from "@socket.io/postgres-adapter";
import { Emitter } from "@socket.io/postgres-emitter";

const name = process.env.NAME || "node";
const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: 4 });
pool.on("error", () => {});

const adapter = createAdapter(pool, {
  heartbeatInterval: Number(process.env.HEARTBEAT_MS || 5000),
  heartbeatTimeout: Number(process.env.HEARTBEAT_TIMEOUT_MS || 10000),
  errorHandler: (err) => process.stderr.write(`postgres-adapter: ${err && err.message}\n`),
});
const emitter = new Emitter(pool);

serveControlled({ Server, opts: { adapter }, name, emitter });
