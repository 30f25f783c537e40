// The Node reference side of the Engine.IO interop suite: the official
// engine.io server implementing the same contract as interop/eioserver
// (see interop/README.md), configured from the same environment variables.
//
//   PORT           port to listen on, 0 (default) for any
//   PING_INTERVAL  ms, engine.io's pingInterval
//   PING_TIMEOUT   ms, engine.io's pingTimeout
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
if (num("MAX_PAYLOAD")) opts.maxHttpBufferSize = num("MAX_PAYLOAD");
if (env.TRANSPORTS) opts.transports = env.TRANSPORTS.split(",");
if (env.ALLOW_EIO3 === "1") opts.allowEIO3 = true;

const reasons = new Map();
const httpServer = http.createServer();
const engine = new Server(opts);
engine.attach(httpServer, opts);

engine.on("connection", (socket) => {
  socket.on("message", (data) => {
    if (typeof data !== "string") {
      socket.send(data);
      return;
    }
    if (data === "close") {
      socket.close();
    } else if (data === "transport?") {
      socket.send(socket.transport.name);
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
