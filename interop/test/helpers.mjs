// Helpers of the interop suite: start the server under test (the Go
// contract server or the Node reference, chosen by SERVER=go|node), open
// engine.io-client sockets, and wait on events with deadlines.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Socket } from "engine.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const interopDir = path.resolve(here, "..");
const repoRoot = path.resolve(interopDir, "..");
const goBinary = path.join(interopDir, ".bin", "eioserver");

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

let built = false;
function buildGo() {
  if (built) return;
  mkdirSync(path.dirname(goBinary), { recursive: true });
  execFileSync("go", ["build", "-o", goBinary, "./interop/eioserver"], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
  });
  built = true;
}

/**
 * Starts the selected server with the given environment (PING_INTERVAL,
 * PING_TIMEOUT, MAX_PAYLOAD, TRANSPORTS, ALLOW_EIO3) and waits for its
 * "READY <port>" line. Returns { url, port, stop }.
 */
export async function startServer(env = {}, { timeout = 15000 } = {}) {
  let cmd, args;
  if (SERVER === "go") {
    buildGo();
    cmd = goBinary;
    args = [];
  } else {
    cmd = process.execPath;
    args = [path.join(interopDir, "servers", "engineio-node.mjs")];
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

/** Closes every client socket still open. */
export function closeAllClients() {
  for (const s of sockets) s.close();
  sockets.clear();
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
