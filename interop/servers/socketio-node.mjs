// The Node reference side of the Socket.IO interop suite: the official
// socket.io server implementing the same contract as interop/sioserver
// (see interop/README.md), configured from the same environment variables.
//
//   PORT             port to listen on, 0 (default) for any
//   PING_INTERVAL    ms, pingInterval
//   PING_TIMEOUT     ms, pingTimeout
//   CONNECT_TIMEOUT  ms, connectTimeout
//   ACK_TIMEOUT      ms, ackTimeout
//   MAX_PAYLOAD      bytes, maxHttpBufferSize
//   ALLOW_EIO3       "1" sets allowEIO3 (socket.io-client 2.x)
//   RECOVERY         "1" turns on connectionStateRecovery, skipMiddlewares
//   PARSER           "msgpack" uses socket.io-msgpack-parser
//
// It prints "READY <port>" on stdout once it listens on 127.0.0.1, and
// answers at /socket.io/.
import { createServer } from "node:http";
import { Server } from "socket.io";

const env = (name) => {
  const n = parseInt(process.env[name] ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
};
const opts = {};
if (env("PING_INTERVAL")) opts.pingInterval = env("PING_INTERVAL");
if (env("PING_TIMEOUT")) opts.pingTimeout = env("PING_TIMEOUT");
if (env("MAX_PAYLOAD")) opts.maxHttpBufferSize = env("MAX_PAYLOAD");
if (env("CONNECT_TIMEOUT")) opts.connectTimeout = env("CONNECT_TIMEOUT");
if (env("ACK_TIMEOUT")) opts.ackTimeout = env("ACK_TIMEOUT");
if (process.env.ALLOW_EIO3 === "1") opts.allowEIO3 = true;
if (process.env.RECOVERY === "1") opts.connectionStateRecovery = { skipMiddlewares: true };
if (process.env.PARSER === "msgpack") opts.parser = (await import("socket.io-msgpack-parser")).default;

const http = createServer();
const io = new Server(http, opts);
// Why each socket disconnected, by id, for "reason?".
const reasons = new Map();
const sorted = (set) => [...set].sort();
// The Go server's errors carry the package prefix; the contract answers
// with the Go text so that both servers say the same.
const errorText = (err) => "socketio: " + err.message;
// The acknowledgement callback of an event with a variable number of
// arguments, and the arguments before it.
const split = (args) => {
  const ack = args.pop();
  return [ack, args];
};

function setup(socket) {
  const nsp = socket.nsp;
  // The sockets of room, or of the whole namespace for "".
  const inRoom = (room) => (room ? nsp.in(room) : nsp);
  const seen = [];
  socket.onAny((event, ...args) => {
    seen.push({ event, args: args.filter((a) => typeof a !== "function") });
  });
  // A recovered socket is connected again under the same id.
  reasons.delete(socket.id);
  socket.on("disconnect", (reason) => reasons.set(socket.id, reason));
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("echo-emit", (...args) => socket.emit("echo", ...args));
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(sorted(socket.rooms));
  });
  socket.on("leave", (room, ack) => {
    socket.leave(room);
    ack(sorted(socket.rooms));
  });
  socket.on("rooms", (ack) => ack(sorted(socket.rooms)));
  socket.on("to", (...a) => {
    const [ack, [room, event, ...rest]] = split(a);
    socket.to(room).emit(event, ...rest);
    ack("ok");
  });
  socket.on("all", (...a) => {
    const [ack, [event, ...rest]] = split(a);
    nsp.emit(event, ...rest);
    ack("ok");
  });
  socket.on("except", (...a) => {
    const [ack, [room, event, ...rest]] = split(a);
    nsp.except(room).emit(event, ...rest);
    ack("ok");
  });
  socket.on("volatile", (event, ...rest) => socket.volatile.emit(event, ...rest));
  socket.on("ask", (...a) => {
    const [ack, [timeoutMs, event, ...rest]] = split(a);
    socket.timeout(timeoutMs).emit(event, ...rest, (err, ...answer) => ack(err ? { error: errorText(err) } : { answer }));
  });
  // The callback form, rather than emitWithAck, so that a time-out still
  // reports the answers that came.
  socket.on("ask-all", (event, timeoutMs, ack) => {
    nsp.timeout(timeoutMs).emit(event, (err, answers) => {
      ack(err ? { answers, error: errorText(err) } : { answers });
    });
  });
  socket.on("fetch", async (room, ack) => {
    const socks = await inRoom(room).fetchSockets();
    ack(
      socks
        .map((s) => ({ id: s.id, rooms: sorted(s.rooms), data: s.data ?? null }))
        .sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)),
    );
  });
  socket.on("sockets-join", (room, target, ack) => {
    inRoom(room).socketsJoin(target);
    ack("ok");
  });
  socket.on("sockets-leave", (room, target, ack) => {
    inRoom(room).socketsLeave(target);
    ack("ok");
  });
  socket.on("disconnect-room", (room, close) => inRoom(room).disconnectSockets(close));
  socket.on("disconnect-me", (close) => socket.disconnect(close));
  socket.on("set-data", (v, ack) => {
    socket.data = v;
    ack("ok");
  });
  socket.on("reason?", (id, ack) => ack(reasons.get(id) ?? "pending"));
  socket.on("emit-reserved", (ack) => {
    try {
      socket.emit("disconnecting");
      ack(false);
    } catch {
      ack(true);
    }
  });
  socket.on("binary", () => {
    socket.emit("binary", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), list: [Buffer.from([6])] });
  });
  socket.on("handshake", (ack) => {
    const h = socket.handshake;
    ack({ auth: h.auth, query: h.query.q ?? "", nsp: nsp.name, recovered: socket.recovered });
  });
  socket.on("handshake-full", (ack) => ack(socket.handshake));
  socket.on("nested-binary", (m, ack) => {
    const isBytes = Buffer.isBuffer;
    ack(m, { "a.b": isBytes(m?.a?.b), "list.0": isBytes(m?.list?.[0]), "list.1.c": isBytes(m?.list?.[1]?.c) });
  });
  socket.on("panic", () => {
    throw new Error("handler panic");
  });
  socket.on("drop", () => socket.conn.close());
  socket.on("any?", (ack) => ack(seen));
}

io.on("connection", setup);
io.of("/chat").on("connection", setup);
const auth = io.of("/auth");
auth.use((socket, next) => {
  if (socket.handshake.auth.token !== "secret") {
    const err = new Error("unauthorized");
    err.data = { code: 401 };
    return next(err);
  }
  socket.data = { user: socket.handshake.auth.user };
  next();
});
auth.on("connection", setup);
io.of(/^\/dyn-[a-z0-9]+$/).on("connection", setup);

// A throwing handler ("panic") reaches the process as an uncaught
// exception; the Go server recovers it per socket. Only that one is kept
// from ending the process.
process.on("uncaughtException", (err) => {
  if (err.message !== "handler panic") throw err;
});

http.listen(env("PORT"), "127.0.0.1", () => {
  process.stdout.write(`READY ${http.address().port}\n`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
