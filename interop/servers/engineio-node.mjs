// The Node reference side of the Engine.IO interop suite: the official
// engine.io server implementing the same contract as interop/eioserver
// (see interop/README.md), configured from the same environment variables.
//
//   PORT           port to listen on, 0 (default) for any
//   PING_INTERVAL  ms, engine.io's pingInterval
//   PING_TIMEOUT   ms, engine.io's pingTimeout
//   UPGRADE_TIMEOUT ms, engine.io's upgradeTimeout
//   MAX_PAYLOAD    bytes, engine.io's maxHttpBufferSize
//   TRANSPORTS     comma-separated list, engine.io's transports
//   ALLOW_EIO3     "1" sets allowEIO3
//
// It prints "READY <port>" on stdout once it listens on 127.0.0.1.
import http from "node:http";
import { Server } from "engine.io";

const env = process.env;
const opts = { path: "/engine.io/" };
const num = (name) => {
  const n = parseInt(env[name] ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
};
if (num("PING_INTERVAL")) opts.pingInterval = num("PING_INTERVAL");
if (num("PING_TIMEOUT")) opts.pingTimeout = num("PING_TIMEOUT");
if (num("UPGRADE_TIMEOUT")) opts.upgradeTimeout = num("UPGRADE_TIMEOUT");
if (num("MAX_PAYLOAD")) opts.maxHttpBufferSize = num("MAX_PAYLOAD");
if (env.TRANSPORTS) opts.transports = env.TRANSPORTS.split(",");
if (env.ALLOW_EIO3 === "1") opts.allowEIO3 = true;

const reasons = new Map();
const httpServer = http.createServer();
const engine = new Server(opts);
engine.attach(httpServer, opts);

// A cookie from each hook: eio_initial on handshakes, eio_headers (the
// request's method) on every response that serves a session.
const addCookie = (headers, cookie) => {
  const prev = headers["Set-Cookie"];
  headers["Set-Cookie"] = prev === undefined ? [cookie] : [].concat(prev, cookie);
};
engine.on("initial_headers", (headers) => addCookie(headers, "eio_initial=1"));
engine.on("headers", (headers, req) => addCookie(headers, `eio_headers=${req.method}`));

engine.on("connection", (socket) => {
  // The upgrade events of the session, in order.
  const upgrades = [];
  socket.on("upgrading", (transport) => upgrades.push(`upgrading:${transport.name}`));
  socket.on("upgrade", (transport) => upgrades.push(`upgrade:${transport.name}`));
  socket.on("message", (data) => {
    if (typeof data !== "string") {
      socket.send(data);
      return;
    }
    if (data === "close") {
      socket.close();
    } else if (data === "transport?") {
      socket.send(socket.transport.name);
    } else if (data === "upgrades?") {
      socket.send(upgrades.join(",") || "none");
    } else if (data.startsWith("reason?")) {
      socket.send(reasons.get(data.slice("reason?".length)) ?? "pending");
    } else {
      socket.send(data);
    }
  });
  socket.on("close", (reason) => {
    reasons.set(socket.id, reason);
  });
});

httpServer.listen(num("PORT") ?? 0, "127.0.0.1", () => {
  process.stdout.write(`READY ${httpServer.address().port}\n`);
});

const stop = () => {
  engine.close();
  httpServer.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
