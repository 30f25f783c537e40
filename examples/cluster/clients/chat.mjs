// Clients of the cluster example, with the official socket.io-client:
// some on long-polling only, some on WebSocket only, some upgrading from
// polling to WebSocket. Each joins a room and sends messages to it with an
// acknowledgement, one after the other; every member of the room must get
// each message exactly once, in its sender's order.
//
//   node chat.mjs URL [CLIENTS_PER_TRANSPORT] [MESSAGES_PER_CLIENT] [ROOMS]
//
// It prints one JSON line of figures and exits 0 when nothing was lost,
// duplicated, reordered or refused, 1 otherwise.
import { io } from "socket.io-client";

const [url, perKind = "10", perClient = "20", roomCount = "3"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node chat.mjs URL [CLIENTS_PER_TRANSPORT] [MESSAGES_PER_CLIENT] [ROOMS]");
  process.exit(2);
}
const kinds = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"] },
};
const nPer = Number(perKind), nMsg = Number(perClient), nRooms = Number(roomCount);

const errors = []; // everything that went wrong, in words
const clients = [];
for (const [kind, opts] of Object.entries(kinds)) {
  for (let i = 0; i < nPer; i++) {
    const name = `${kind}-${i}`;
    const room = `room-${clients.length % nRooms}`;
    const socket = io(url, { ...opts, forceNew: true, reconnection: false, timeout: 10000 });
    const c = { name, kind, room, socket, got: new Map(), closing: false, upgraded: false };
    socket.on("connect_error", (err) => errors.push(`${name}: connect_error: ${err.message}`));
    socket.on("disconnect", (reason) => {
      if (!c.closing) errors.push(`${name}: disconnected: ${reason}`);
    });
    socket.io.on("error", (err) => errors.push(`${name}: manager error: ${err.message}`));
    socket.on("broadcast", (m) => {
      if (m.room !== room) {
        errors.push(`${name}: got a message for ${m.room}`);
        return;
      }
      const [from, seq] = m.text.split("#");
      if (!c.got.has(from)) c.got.set(from, []);
      c.got.get(from).push(Number(seq));
    });
    clients.push(c);
  }
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))]);

const started = Date.now();
let sent = 0, acked = 0;
try {
  // Connected, and in their rooms, before anyone speaks.
  await withTimeout(Promise.all(clients.map((c) => new Promise((resolve) => {
    if (c.socket.connected) resolve();
    else c.socket.once("connect", resolve);
  }))), 20000, "connect");
  await Promise.all(clients.map(async (c) => {
    const rooms = await c.socket.timeout(10000).emitWithAck("join", c.room);
    if (!rooms.includes(c.room)) errors.push(`${c.name}: join answered ${JSON.stringify(rooms)}`);
  }));
  // Everyone speaks at once, each waiting for the ack of one message
  // before sending the next.
  await Promise.all(clients.map(async (c) => {
    for (let seq = 0; seq < nMsg; seq++) {
      sent++;
      const ok = await c.socket.timeout(10000).emitWithAck("to", c.room, `${c.name}#${seq}`);
      if (ok !== true) errors.push(`${c.name}: message ${seq} answered ${JSON.stringify(ok)}`);
      else acked++;
    }
  }));
  // Everything delivered: each member has every message of its room.
  const want = new Map();
  for (const c of clients) want.set(c.room, (want.get(c.room) ?? 0) + nMsg);
  const complete = () => clients.every((c) => [...c.got.values()].reduce((n, l) => n + l.length, 0) >= want.get(c.room));
  const deadline = Date.now() + 15000;
  while (!complete() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
} catch (err) {
  errors.push(`run: ${err.message}`);
}

let delivered = 0, duplicated = 0, lost = 0, reordered = 0;
const senders = new Map(clients.map((c) => [c.name, c]));
for (const c of clients) {
  for (const s of clients.filter((o) => o.room === c.room)) {
    const seqs = c.got.get(s.name) ?? [];
    delivered += seqs.length;
    const seen = new Set();
    let last = -1;
    for (const seq of seqs) {
      if (seen.has(seq)) duplicated++;
      else if (seq < last) reordered++;
      seen.add(seq);
      last = Math.max(last, seq);
    }
    for (let seq = 0; seq < nMsg; seq++) if (!seen.has(seq)) lost++;
  }
  for (const from of c.got.keys()) {
    if (!senders.has(from) || senders.get(from).room !== c.room) errors.push(`${c.name}: a message from ${from}`);
  }
}
for (const c of clients) {
  c.upgraded = c.socket.io.engine?.transport?.name === "websocket";
  c.closing = true;
  c.socket.disconnect();
}
const upgradedCount = clients.filter((c) => c.kind === "upgrade" && c.upgraded).length;
if (upgradedCount !== nPer) errors.push(`${upgradedCount} of ${nPer} upgrading clients ended on WebSocket`);
const summary = {
  clients: clients.length,
  sent,
  acked,
  delivered,
  duplicated,
  lost,
  reordered,
  upgraded: upgradedCount,
  ms: Date.now() - started,
  errors,
};
console.log(JSON.stringify(summary));
process.exit(errors.length === 0 && lost === 0 && duplicated === 0 && reordered === 0 && acked === sent ? 0 : 1);
