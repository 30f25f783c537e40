// Clients that keep chatting while the cluster's nodes restart, with the
// official socket.io-client: a third on long-polling only, a third on
// WebSocket only, a third upgrading. Each joins a room, then sends a
// message to it every INTERVAL ms with an acknowledgement, one at a time,
// reconnecting whenever its connection ends, until "stop" comes on
// standard input (or it closes). It then waits for the deliveries to
// settle and prints one JSON line of figures:
//
//   acked, unacked       messages whose sender got (or did not get) the ack
//   lostAcked            (member, acknowledged message of its room) pairs
//                        never delivered
//   lostUnacked          the same for messages without an ack (allowed)
//   duplicated           deliveries of a message a member already had
//   reordered            deliveries that came after a later message of
//                        the same sender
//   reconnects           connections after a client's first
//   recovered            of those, the ones the server recovered
//   gaveUp               clients that stopped trying to reconnect
//
//   node restart.mjs URL [CLIENTS] [ROOMS] [INTERVAL]
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const [url, clientCount = "150", roomCount = "15", intervalMs = "300"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node restart.mjs URL [CLIENTS] [ROOMS] [INTERVAL]");
  process.exit(2);
}
const transportsOf = [["polling"], ["websocket"], ["polling", "websocket"]];
const kindNames = ["polling", "websocket", "upgrade"];
const n = Number(clientCount), nRooms = Number(roomCount), interval = Number(intervalMs);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let stopping = false;
const clients = [];
const t0 = Date.now();
const at = () => Date.now() - t0;
// note records a connection event in the client's history and among what
// it received.
const note = (c, text) => {
  c.history.push(text);
  c.log.push(text);
};
for (let i = 0; i < n; i++) {
  const kind = i % 3;
  const name = `${kindNames[kind]}-${i}`;
  const room = `room-${i % nRooms}`;
  const socket = io(url, {
    transports: transportsOf[kind],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 1000,
    reconnectionAttempts: 30,
    timeout: 5000,
  });
  const c = { name, room, socket, next: 0, acked: [], unacked: [], got: new Map(), connects: 0, recovered: 0, gaveUp: false, joined: false, notes: [], history: [], sentAt: new Map(), log: [] };
  socket.on("disconnect", (reason) => note(c, `${at()} disconnect ${reason}`));
  socket.io.on("reconnect_attempt", (n) => note(c, `${at()} attempt ${n}`));
  socket.on("connect", async () => {
    note(c, `${at()} connect ${socket.io.engine.transport.name} recovered=${socket.recovered} sid=${socket.id} eio=${socket.io.engine.id}`);
    c.connects++;
    if (c.connects > 1 && socket.recovered) c.recovered++;
    else if (c.joined) {
      // Not recovered: a new session, which joins the room again; what was
      // sent to the room meanwhile is lost for this member.
      c.notes.push(`new session on reconnect ${c.connects - 1}`);
      await socket.timeout(5000).emitWithAck("join", room).catch(() => {});
    }
  });
  socket.io.on("reconnect_failed", () => { c.gaveUp = true; });
  socket.on("broadcast", (m, offset) => {
    c.log.push(`${at()} ${m.text} @${offset}`);
    const [from, seq] = m.text.split("#");
    if (!c.got.has(from)) c.got.set(from, []);
    c.got.get(from).push(Number(seq));
  });
  clients.push(c);
}

const stdin = createInterface({ input: process.stdin });
const stopped = new Promise((resolve) => {
  stdin.on("line", (l) => { if (l.trim() === "stop") resolve(); });
  stdin.on("close", resolve);
});

// Everyone connected and in its room before anyone speaks.
await Promise.all(clients.map((c) => new Promise((resolve) => {
  if (c.socket.connected) resolve();
  else c.socket.once("connect", resolve);
})));
await Promise.all(clients.map(async (c) => {
  await c.socket.timeout(10000).emitWithAck("join", c.room);
  c.joined = true;
}));
console.error(`restart.mjs: ${n} clients connected and joined`);

const senders = clients.map(async (c, i) => {
  await sleep((i * interval) / n); // spread over the interval
  while (!stopping) {
    if (!c.socket.connected) {
      await sleep(20);
      continue;
    }
    const seq = c.next++;
    const sent = Date.now() - t0;
    try {
      const ok = await c.socket.timeout(3000).emitWithAck("to", c.room, `${c.name}#${seq}`);
      (ok === true ? c.acked : c.unacked).push(seq);
      c.sentAt.set(seq, `sent ${sent} acked ${Date.now() - t0}`);
    } catch {
      c.unacked.push(seq);
    }
    await sleep(interval);
  }
});
await stopped;
stopping = true;
await Promise.all(senders);
// Let the last deliveries arrive: until nothing new for a second.
let last = -1;
for (;;) {
  const total = clients.reduce((t, c) => t + [...c.got.values()].reduce((s, l) => s + l.length, 0), 0);
  if (total === last) break;
  last = total;
  await sleep(1000);
}

const byName = new Map(clients.map((c) => [c.name, c]));
const fig = { clients: n, acked: 0, unacked: 0, delivered: 0, lostAcked: 0, lostUnacked: 0, duplicated: 0, reordered: 0, reconnects: 0, recovered: 0, gaveUp: 0, newSessions: 0 };
const examples = [];
for (const c of clients) {
  fig.acked += c.acked.length;
  fig.unacked += c.unacked.length;
  fig.reconnects += Math.max(0, c.connects - 1);
  fig.recovered += c.recovered;
  fig.newSessions += c.notes.length;
  if (c.gaveUp) fig.gaveUp++;
  for (const s of clients) {
    if (s.room !== c.room) continue;
    const seqs = c.got.get(s.name) ?? [];
    fig.delivered += seqs.length;
    const count = new Map();
    let max = -1;
    for (const q of seqs) {
      count.set(q, (count.get(q) ?? 0) + 1);
      if (count.get(q) > 1) {
        fig.duplicated++;
        if (examples.length < 10) {
          const text = `${s.name}#${q}`;
          const idx = c.log.flatMap((l, i) => (l.includes(` ${text} `) ? [i] : []));
          const around = (i) => c.log.slice(Math.max(0, i - 4), i + 3).join("; ");
          examples.push(`${c.name} got ${text} twice`);
          console.error(`duplicate: ${c.name} got ${text} twice\n  first: ${around(idx[0])}\n  again: ${around(idx[1])}\n  ${c.name}: ${c.history.join("; ")}`);
        }
      }
      else if (q < max) fig.reordered++;
      max = Math.max(max, q);
    }
    for (const q of s.acked) {
      if (!count.has(q)) {
        fig.lostAcked++;
        if (examples.length < 10) {
          examples.push(`${c.name} never got ${s.name}#${q} (acked; ${s.sentAt.get(q)}; got ${(c.got.get(s.name) ?? []).join(",")})`);
          console.error(`lost: ${c.name} never got ${s.name}#${q}: ${s.sentAt.get(q)}\n  ${c.name}: ${c.history.join("; ")}\n  ${s.name}: ${s.history.join("; ")}`);
        }
      }
    }
    for (const q of s.unacked) if (!count.has(q)) fig.lostUnacked++;
  }
  for (const from of c.got.keys()) {
    const s = byName.get(from);
    if (!s || s.room !== c.room) examples.push(`${c.name} got a message from ${from}, not of its room`);
  }
}
for (const c of clients) c.socket.disconnect();
console.log(JSON.stringify({ ...fig, examples }));
process.exit(0);
