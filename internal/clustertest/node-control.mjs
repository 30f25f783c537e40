// The part of the adapter modules' interop/node-server.mjs that does not
// depend on the adapter: a Node Socket.IO server with the namespaces "/",
// "/chat" and the dynamic ones matching /^\/dyn-\d+$/, whose sockets
// answer "join" and carry {node, name} as data, whose server-side handler
// of "hello" records the event and answers with the node's name, and an
// HTTP control API under /ctl/ that the Go tests drive (commands take the
// namespace in "nsp", default "/"). It prints {"port": N} on its first
// line once it listens.
//
// The caller passes socket.io's Server class, from its own node_modules,
// the server options (with the adapter), the node's name, and the
// emitter of its adapter's emitter package.
import http from "node:http";

export function serveControlled({ Server, opts, name, emitter }) {
  const received = new Map(); // namespace → ["hello:<arg>", ...]
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

  const dynamic = /^\/dyn-\d+$/;

  function onConnection(socket) {
    if (!socket.recovered) {
      socket.data = { node: name, name: socket.handshake.auth.name };
    }
    socket.on("join", (room, cb) => {
      socket.join(room);
      if (typeof cb === "function") cb();
    });
  }

  // serverSide adds the handler of "hello" to a namespace.
  function serverSide(nsp) {
    nsp.on("hello", (arg, cb) => {
      if (!received.has(nsp.name)) received.set(nsp.name, []);
      received.get(nsp.name).push("hello:" + arg);
      if (typeof cb === "function") cb(name);
    });
  }

  for (const nsp of [io.of("/"), io.of("/chat")]) {
    nsp.on("connection", onConnection);
    serverSide(nsp);
  }
  io.of(dynamic).on("connection", onConnection);
  // A parent namespace gives its children its middlewares and connection
  // handlers, not its other listeners: each child gets "hello" when created.
  io.on("new_namespace", (nsp) => {
    if (dynamic.test(nsp.name)) serverSide(nsp);
  });

  // nspOf is the namespace a command names, which must exist already (a
  // dynamic one once a client connected to it): commands create none.
  function nspOf(b) {
    const nsp = io._nsps.get(b.nsp || "/");
    if (!nsp) throw new Error("no namespace " + b.nsp);
    return nsp;
  }

  // select applies {rooms, except} to an operator.
  function select(op, { rooms, except }) {
    if (rooms && rooms.length) op = op.to(rooms);
    if (except && except.length) op = op.except(except);
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

  // withAck runs emit(callback) and resolves with the answers received and
  // the error, if any, rather than failing: answers that came before a
  // timeout are kept.
  const withAck = (emit) =>
    new Promise((resolve) => emit((err, answers) => resolve({ answers: answers || [], err: err ? String(err.message || err) : "" })));

  async function control(path, b) {
    const args = revive(b.args || []);
    switch (path) {
      case "/ctl/emit":
        select(b.volatile ? nspOf(b).volatile : nspOf(b), b).emit(b.event, ...args);
        return;
      case "/ctl/emitWithAck":
        return withAck((cb) => select(nspOf(b).timeout(b.timeout || 5000), b).emit(b.event, ...args, cb));
      case "/ctl/fetch": {
        const sockets = await select(nspOf(b), b).fetchSockets();
        return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, auth: s.handshake.auth, query: s.handshake.query }));
      }
      case "/ctl/join":
        select(nspOf(b), b).socketsJoin(b.join);
        return;
      case "/ctl/leave":
        select(nspOf(b), b).socketsLeave(b.leave);
        return;
      case "/ctl/disconnect":
        select(nspOf(b), b).disconnectSockets(!!b.close);
        return;
      case "/ctl/remote": { // fetchSockets, then act on each socket
        const sockets = await nspOf(b).in(b.ids).fetchSockets();
        for (const s of sockets) {
          switch (b.op) {
            case "emit": s.emit(b.event, ...args); break;
            case "join": s.join(b.room); break;
            case "leave": s.leave(b.room); break;
            case "disconnect": s.disconnect(!!b.close); break;
            default: throw new Error("unknown remote op " + b.op);
          }
        }
        return { count: sockets.length };
      }
      case "/ctl/sse":
        nspOf(b).serverSideEmit(b.event, ...args);
        return;
      case "/ctl/sseAck":
        return withAck((cb) => nspOf(b).serverSideEmit(b.event, ...args, cb));
      case "/ctl/received":
        return { sse: received.get(b.nsp || "/") || [], all: Object.fromEntries(received) };
      case "/ctl/local": { // the sockets of this server, in every namespace
        const sockets = [];
        for (const [n, nsp] of io._nsps) {
          for (const s of nsp.sockets.values()) sockets.push({ nsp: n, id: s.id, rooms: [...s.rooms] });
        }
        return { sockets };
      }
      case "/ctl/flood": // for the benchmark
        for (let i = 0; i < b.n; i++) io.emit(b.event, i);
        return;
      case "/ctl/allRooms":
        return { rooms: [...(await nspOf(b).adapter.allRooms())] };
      case "/ctl/count":
        return { count: await nspOf(b).adapter.serverCount() };
      case "/ctl/emitter":
        select(emitter.of(b.nsp || "/"), b).emit(b.event, ...args);
        return;
      case "/ctl/emitterJoin":
        select(emitter.of(b.nsp || "/"), b).socketsJoin(b.join);
        return;
      case "/ctl/emitterLeave":
        select(emitter.of(b.nsp || "/"), b).socketsLeave(b.leave);
        return;
      case "/ctl/emitterDisconnect":
        select(emitter.of(b.nsp || "/"), b).disconnectSockets(!!b.close);
        return;
      case "/ctl/emitterSse":
        emitter.of(b.nsp || "/").serverSideEmit(b.event, ...args);
        return;
    }
    throw new Error("unknown command " + path);
  }

  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
}
