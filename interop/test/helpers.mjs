// Helpers of the interop suite: start the server under test (the Go
// contract server or the Node reference, chosen by SERVER=go|node), open
// engine.io-client, socket.io-client 4 and socket.io-client 2 sockets, and
// wait on events with deadlines.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Socket } from "engine.io-client";
import { Manager } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import sioc2 from "sioc2";

const here = path.dirname(fileURLToPath(import.meta.url));
const interopDir = path.resolve(here, "..");
const repoRoot = path.resolve(interopDir, "..");

// The two kinds of contract server: the Go command and the Node script.
const KINDS = {
  engineio: { pkg: "./interop/eioserver", script: "engineio-node.mjs" },
  socketio: { pkg: "./interop/sioserver", script: "socketio-node.mjs" },
};
const goBinaryOf = (pkg) => path.join(interopDir, ".bin", path.basename(pkg));

/** Which server the suite runs against: "node" (reference) or "go". */
export const SERVER = process.env.SERVER ?? "node";
if (SERVER !== "node" && SERVER !== "go") {
  throw new Error(`SERVER must be "node" or "go", not ${JSON.stringify(SERVER)}`);
}

const children = new Set();
const sockets = new Set();

// No orphans: whatever is still running when the test process ends is
// killed, even when a test failed before its own cleanup.
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

const built = new Set();
function buildGo(pkg) {
  const binary = goBinaryOf(pkg);
  if (built.has(pkg)) return binary;
  mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync("go", ["build", "-o", binary, pkg], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
  });
  built.add(pkg);
  return binary;
}

/**
 * Starts the selected Engine.IO server with the given environment
 * (PING_INTERVAL, PING_TIMEOUT, MAX_PAYLOAD, TRANSPORTS, ALLOW_EIO3) and
 * waits for its "READY <port>" line. Returns { url, port, stop }.
 */
export function startServer(env = {}, { timeout = 15000 } = {}) {
  return startKind("engineio", env, timeout);
}

/**
 * Starts the selected Socket.IO server (interop/sioserver or
 * servers/socketio-node.mjs) with the given environment (PING_INTERVAL,
 * PING_TIMEOUT, CONNECT_TIMEOUT, ACK_TIMEOUT, MAX_PAYLOAD, ALLOW_EIO3,
 * RECOVERY, PARSER) and waits for its "READY <port>" line. Returns
 * { url, port, stop }.
 */
export function startSocketIOServer(env = {}, { timeout = 15000 } = {}) {
  return startKind("socketio", env, timeout);
}

async function startKind(kind, env, timeout) {
  const { pkg, script } = KINDS[kind];
  let cmd, args;
  if (SERVER === "go") {
    cmd = buildGo(pkg);
    args = [];
  } else {
    cmd = process.execPath;
    args = [path.join(interopDir, "servers", script)];
  }
  const child = spawn(cmd, args, {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  exited.then(() => children.delete(child));

  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${SERVER} server did not print READY within ${timeout} ms`));
    }, timeout);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${SERVER} server exited before READY (code ${code}, signal ${signal})`));
    });
  });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killer);
  };
  return { url: `http://127.0.0.1:${port}`, port, stop };
}

/**
 * Opens an engine.io-client socket to url with the given options and
 * resolves once it is open. In "upgrade" mode pass waitUpgrade to resolve
 * only after the upgrade to WebSocket completed.
 */
export async function connect(url, opts = {}, { waitUpgrade = false, timeout = 5000 } = {}) {
  const socket = createClient(url, opts);
  const upgraded = waitUpgrade ? waitFor(socket, "upgrade", timeout) : null;
  await waitFor(socket, "open", timeout);
  if (upgraded) await upgraded;
  return socket;
}

/** Creates an engine.io-client socket, closed by closeAllClients. */
export function createClient(url, opts = {}) {
  const socket = new Socket(url, opts);
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  return socket;
}

/** Closes every client socket still open, of every client library. */
export function closeAllClients() {
  for (const s of sockets) s.close();
  sockets.clear();
  closeSocketIOClients();
}

/**
 * Resolves with the arguments of the next `event` on emitter (an array
 * when there are several), or rejects after timeout ms. A "close" on the
 * socket while waiting for something else rejects at once, naming the
 * reason, so a test fails with the cause instead of a time-out.
 */
export function waitFor(emitter, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      cleanup();
      resolve(args.length > 1 ? args : args[0]);
    };
    const onClose = (reason, desc) => {
      cleanup();
      reject(new Error(`closed (${reason}${desc ? ": " + describe(desc) : ""}) while waiting for "${event}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${event}" within ${timeout} ms`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      if (event !== "close") emitter.off("close", onClose);
    };
    emitter.on(event, onEvent);
    if (event !== "close") emitter.on("close", onClose);
  });
}

/** Resolves with the socket's close [reason, description]. */
export function waitClose(socket, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "close" within ${timeout} ms`)), timeout);
    socket.once("close", (reason, desc) => {
      clearTimeout(timer);
      resolve({ reason, description: desc });
    });
  });
}

/** Collects the next n messages of socket, in arrival order. */
export function collect(socket, n, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const onMessage = (data) => {
      got.push(data);
      if (got.length === n) {
        cleanup();
        resolve(got);
      }
    };
    const onClose = (reason) => {
      cleanup();
      reject(new Error(`closed (${reason}) after ${got.length}/${n} messages`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`only ${got.length}/${n} messages within ${timeout} ms`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      socket.off("close", onClose);
    };
    socket.on("message", onMessage);
    socket.on("close", onClose);
  });
}

/** Sends data and resolves with the next message (the echo). */
export function request(socket, data, timeout = 5000) {
  const reply = waitFor(socket, "message", timeout);
  socket.send(data);
  return reply;
}

/**
 * Asks the server for the close reason it recorded for sid, until it is no
 * longer "pending" or the deadline passes. It asks over a short-lived
 * session of its own, in raw v4 long-polling requests, so that the answer
 * depends on no other client and on no heartbeat timing.
 */
export async function closeReason(url, sid, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    let r;
    try {
      r = await ask(url, `reason?${sid}`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if ((r !== undefined && r !== "pending") || Date.now() > deadline) return r;
    await tick(25);
  }
}

// One question to the contract server over a fresh v4 polling session:
// handshake, POST the message, GET until the reply, POST a close packet.
async function ask(url, message) {
  const base = `${url}/engine.io/?EIO=4&transport=polling`;
  const open = await (await fetch(base)).text();
  if (!open.startsWith("0")) throw new Error(`handshake: ${open}`);
  const sid = JSON.parse(open.slice(1)).sid;
  const session = `${base}&sid=${encodeURIComponent(sid)}`;
  const post = async (body) => {
    const res = await fetch(session, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" } });
    if (res.status !== 200) throw new Error(`POST ${body}: ${res.status}`);
    await res.arrayBuffer();
  };
  await post(`4${message}`);
  try {
    for (;;) {
      const res = await fetch(session);
      if (res.status !== 200) throw new Error(`GET: ${res.status}`);
      const packets = (await res.text()).split("\x1e");
      const reply = packets.find((p) => p[0] === "4");
      if (reply !== undefined) return reply.slice(1);
      if (packets.includes("2")) await post("3");
      if (packets.includes("1")) throw new Error("session closed before the reply");
    }
  } finally {
    await post("1").catch(() => {});
  }
}

/** Waits ms between two polls of a condition (never as synchronization). */
export function tick(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(desc) {
  if (desc instanceof Error) return desc.message;
  if (desc && typeof desc === "object") {
    return desc.description instanceof Error ? desc.description.message : String(desc.description ?? "");
  }
  return String(desc);
}

/** Deterministic bytes of the given length. */
export function bytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

// ---------------------------------------------------------------------
// Socket.IO clients: socket.io-client 4 (Manager and Socket) and
// socket.io-client 2 (the sioc2 alias), closed by closeAllClients.

const sioManagers = new Set();
const sioSockets = new Set();
const v2Sockets = new Set();

/** socket.io-client options for a parser name, "default" or "msgpack". */
export function parserOpts(parser) {
  return parser === "msgpack" ? { parser: msgpackParser } : {};
}

/**
 * Creates a socket.io-client 4 Manager: one Engine.IO connection that
 * namespaces share. Reconnection is off unless opts turns it on.
 */
export function sioManager(url, opts = {}) {
  const manager = new Manager(url, { reconnection: false, ...opts });
  sioManagers.add(manager);
  return manager;
}

/**
 * Creates a socket.io-client 4 socket of namespace nsp (default "/"), on
 * the given manager or on a Manager of its own built from the other
 * options. auth is the socket's auth payload.
 */
export function sioClient(url, { nsp = "/", auth, manager, ...opts } = {}) {
  const m = manager ?? sioManager(url, opts);
  const socket = m.socket(nsp, auth === undefined ? {} : { auth });
  sioSockets.add(socket);
  return socket;
}

/** sioClient, resolved once connected; rejects on connect_error. */
export async function sioConnect(url, opts = {}, timeout = 5000) {
  return connected(sioClient(url, opts), timeout);
}

/**
 * Resolves with socket once it is connected (now or on its next
 * "connect"); rejects on its next connect_error, naming the message, or
 * after timeout ms.
 */
export function connected(socket, timeout = 5000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`connect_error: ${err.message}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "connect" within ${timeout} ms`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/**
 * Resolves with the arguments of the next `event` on a socket.io socket,
 * always as an array, or rejects after timeout ms. While waiting for
 * anything but a connection event, a "disconnect" rejects at once with
 * its reason.
 */
export function once(socket, event, timeout = 5000) {
  const watchDisconnect = !["disconnect", "connect", "connect_error", "error"].includes(event);
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      cleanup();
      resolve(args);
    };
    const onDisconnect = (reason) => {
      cleanup();
      reject(new Error(`disconnected (${reason}) while waiting for "${event}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${event}" within ${timeout} ms`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      if (watchDisconnect) socket.off("disconnect", onDisconnect);
    };
    socket.on(event, onEvent);
    if (watchDisconnect) socket.on("disconnect", onDisconnect);
  });
}

/**
 * Emits event with args and an acknowledgement callback, and resolves with
 * all the arguments of the acknowledgement; rejects when none comes within
 * timeout ms (socket.io-client's own ack timeout).
 */
export function emitAck(socket, event, ...args) {
  return emitAckWithin(5000, socket, event, ...args);
}

/** emitAck with a deadline of timeout ms. */
export function emitAckWithin(timeout, socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeout).emit(event, ...args, (err, ...answer) => {
      if (err) reject(new Error(`no acknowledgement of "${event}" within ${timeout} ms: ${err.message}`));
      else resolve(answer);
    });
  });
}

/** emitAck, resolved with the acknowledgement's first argument. */
export async function ask1(socket, event, ...args) {
  return (await emitAck(socket, event, ...args))[0];
}

/**
 * Asks the Socket.IO contract server, through the connected socket
 * observer, for the disconnect reason it recorded for socket id, until it
 * is no longer "pending" or the deadline passes.
 */
export async function serverReason(observer, id, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const r = await ask1(observer, "reason?", id);
    if (r !== "pending" || Date.now() > deadline) return r;
    await tick(20);
  }
}

/** Polls cond every 10 ms until it holds; throws after timeout ms. */
export async function until(cond, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout} ms`);
    await tick(10);
  }
}

/**
 * Creates a socket.io-client 2 Manager (Engine.IO v3, Socket.IO protocol
 * 4), reconnection off unless opts turns it on.
 */
export function v2Manager(url, opts = {}) {
  return new sioc2.Manager(url, { reconnection: false, ...opts });
}

/**
 * Creates a socket.io-client 2 socket of namespace nsp (default "/"), on
 * the given manager or on a connection of its own built from the other
 * options (query included).
 */
export function v2Client(url, { nsp = "/", manager, ...opts } = {}) {
  const socket = manager
    ? manager.socket(nsp, opts)
    : sioc2(url + (nsp === "/" ? "" : nsp), { forceNew: true, reconnection: false, ...opts });
  v2Sockets.add(socket);
  return socket;
}

/**
 * Resolves once a socket.io-client 2 socket is connected; rejects on its
 * next "error" (2.x reports a refused namespace there) or after timeout ms.
 */
export function v2Connected(socket, timeout = 5000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`error: ${JSON.stringify(err)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "connect" within ${timeout} ms`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("error", onError);
  });
}

/**
 * Emits event with args on a socket.io-client 2 socket and resolves with
 * the acknowledgement's arguments; rejects after timeout ms (2.x has no
 * ack timeout of its own).
 */
export function v2Ack(socket, event, ...args) {
  const timeout = 5000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no acknowledgement of "${event}" within ${timeout} ms`)), timeout);
    socket.emit(event, ...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

function closeSocketIOClients() {
  for (const s of sioSockets) s.disconnect();
  sioSockets.clear();
  // A manager whose sockets are all gone closes its engine by itself; one
  // still reconnecting, or whose namespace was refused, is closed here.
  for (const m of sioManagers) {
    if (m._readyState !== "closed") m._close();
  }
  sioManagers.clear();
  for (const s of v2Sockets) {
    s.close();
    s.io.close();
  }
  v2Sockets.clear();
}

/**
 * The value with every binary (Buffer, typed array, ArrayBuffer) replaced
 * by { bytes: [...] }, so that values compare by content whatever binary
 * type a parser decodes into.
 */
export function plain(v) {
  if (v instanceof ArrayBuffer) return { bytes: [...new Uint8Array(v)] };
  if (ArrayBuffer.isView(v)) return { bytes: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

// The three ways engine.io-client reaches a server.
export const MODES = [
  { name: "polling", opts: { transports: ["polling"] }, final: "polling" },
  { name: "websocket", opts: { transports: ["websocket"] }, final: "websocket" },
  { name: "upgrade", opts: {}, final: "websocket", upgrades: true },
];

// The WebSocket close event the client saw, or undefined over polling.
export function wsCloseEvent(closed) {
  const ctx = closed.description?.context;
  return ctx && typeof ctx.code === "number" ? ctx : undefined;
}
