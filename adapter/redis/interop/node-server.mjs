// A Node Socket.IO server on one of the official Redis adapters, driven
// by the Go tests of adapter/redis over HTTP. Its sockets answer "join"
// (join a room, then ack) and carry {node, name} as data; its server-side
// handler of "hello" records the event and answers with the node's name.
// It also hosts an @socket.io/redis-emitter for the emitter tests.
//
//   REDIS_URL=redis://127.0.0.1:6379 ADAPTER=pubsub|sharded|streams NAME=n \
//     node node-server.mjs
//
// It prints {"port": N} on its first line once it listens.
import http from "node:http";
import { Server } from "socket.io";
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
const received = [];
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", async () => {
    try {
      const out = await control(req.url, (body && JSON.parse(body)) || {});
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out ?? {}));
    } catch (e) {
      res.writeHead(500);
      res.end(String(e && e.stack || e));
    }
  });
});
const io = new Server(server, opts);

io.on("connection", (socket) => {
  if (!socket.recovered) {
    socket.data = { node: name, name: socket.handshake.auth.name };
  }
  socket.on("join", (room, cb) => {
    socket.join(room);
    if (typeof cb === "function") cb();
  });
});
io.on("hello", (arg, cb) => {
  received.push("hello:" + arg);
  if (typeof cb === "function") cb(name);
});

// select applies {rooms, except} to an operator.
function select(op, { rooms = [], except = [] }) {
  if (rooms.length) op = op.to(rooms);
  if (except.length) op = op.except(except);
  return op;
}

// JSON cannot carry binary: {"$bin": [bytes]} stands for a Buffer.
const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (Array.isArray(v.$bin)) return Buffer.from(v.$bin);
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, revive(e)]));
  }
  return v;
};

async function control(path, b) {
  const args = revive(b.args || []);
  switch (path) {
    case "/ctl/emit":
      select(b.volatile ? io.volatile : io, b).emit(b.event, ...args);
      return;
    case "/ctl/emitWithAck":
      return { answers: await select(io.timeout(b.timeout || 5000), b).emitWithAck(b.event, ...args) };
    case "/ctl/fetch": {
      const sockets = await select(io, b).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, auth: s.handshake.auth, query: s.handshake.query }));
    }
    case "/ctl/join":
      select(io, b).socketsJoin(b.join);
      return;
    case "/ctl/leave":
      select(io, b).socketsLeave(b.leave);
      return;
    case "/ctl/disconnect":
      select(io, b).disconnectSockets(!!b.close);
      return;
    case "/ctl/sse":
      io.serverSideEmit(b.event, ...args);
      return;
    case "/ctl/sseAck":
      return { answers: await io.serverSideEmitWithAck(b.event, ...args) };
    case "/ctl/received":
      return { sse: received };
    case "/ctl/flood": // for the benchmark
      for (let i = 0; i < b.n; i++) io.emit(b.event, i);
      return;
    case "/ctl/allRooms":
      return { rooms: [...(await io.of("/").adapter.allRooms())] };
    case "/ctl/count":
      return { count: await io.of("/").adapter.serverCount() };
    case "/ctl/emitter":
      select(emitter, b).emit(b.event, ...args);
      return;
    case "/ctl/emitterJoin":
      select(emitter, b).socketsJoin(b.join);
      return;
    case "/ctl/emitterDisconnect":
      select(emitter, b).disconnectSockets(!!b.close);
      return;
    case "/ctl/emitterSse":
      emitter.serverSideEmit(b.event, ...args);
      return;
  }
  throw new Error("unknown command " + path);
}

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
