// The frame of the Socket.IO interop suites: the transport modes and
// parsers every scenario runs in, the servers a file's scenarios share, and
// helpers that more than one file uses.
import { describe, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  SERVER,
  startSocketIOServer,
  closeAllClients,
  parserOpts,
  sioConnect,
  once,
  ask1,
  until,
} from "./helpers.mjs";

// The three ways socket.io-client reaches a server.
export const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, final: "websocket" },
  { name: "polling", opts: { transports: ["polling"] }, final: "polling" },
  { name: "upgrade", opts: {}, final: "websocket", upgrades: true },
];
export const PARSERS = ["default", "msgpack"];

// Names unique to this run, so that tests sharing a server do not see one
// another's sockets: dynamic namespaces (the contract server accepts any
// /dyn-[a-z0-9]+) and rooms.
let counter = 0;
export const unique = () => `${process.pid.toString(36)}x${(++counter).toString(36)}`;
export const freshNsp = () => `/dyn-${unique()}`;
export const freshRoom = () => `room-${unique()}`;

// Makes the client stop answering pings, as in engineio.test.mjs: the
// engine's _sendPacket drops pongs, and the client's own heartbeat
// deadline is turned off so that only the server's can end the session.
export function stopAnsweringPings(engine) {
  const send = engine._sendPacket.bind(engine);
  engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
  clearTimeout(engine._pingTimeoutTimer);
  engine._resetPingTimeout = () => {};
}

// Watches sockets for `event`; the returned check asserts that none got it
// before a barrier: a broadcast of "barrier" to the whole namespace, sent
// by `from` after the operation under test. The server writes to each
// connection in order, so anything sent to a socket before the barrier
// arrives before it.
export function watchNone(sockets, event) {
  const got = new Map(sockets.map((s) => [s, []]));
  const offs = sockets.map((s) => {
    const fn = (...args) => got.get(s).push(args);
    s.on(event, fn);
    return () => s.off(event, fn);
  });
  return async (from) => {
    try {
      const barriers = sockets.map((s) => once(s, "barrier"));
      await ask1(from, "all", "barrier");
      await Promise.all(barriers);
      for (const [s, list] of got) assert.deepEqual(list, [], `socket ${s.id} got "${event}"`);
    } finally {
      for (const off of offs) off();
    }
  };
}

// The servers a file may ask for, by name: plain, with a fast heartbeat and
// connect timeout, and with connection state recovery.
const SERVERS = {
  srv: {},
  hb: { PING_INTERVAL: "300", PING_TIMEOUT: "400", CONNECT_TIMEOUT: "500" },
  rec: { RECOVERY: "1" },
};

// sioSuites declares a file's suites: for each parser, the servers named
// (keys of SERVERS), started once and shared by its scenarios, and body
// called with the parser and, for each name, an object whose url is that
// server's.
export function sioSuites(title, names, body) {
  describe(`socket.io-client 4 against the ${SERVER} server: ${title}`, () => {
    after(() => closeAllClients());
    for (const parser of PARSERS) {
      describe(`${parser} parser`, () => {
        const started = {};
        before(async () => {
          const p = parser === "msgpack" ? { PARSER: "msgpack" } : {};
          const servers = await Promise.all(names.map((n) => startSocketIOServer({ ...p, ...SERVERS[n] })));
          names.forEach((n, i) => (started[n] = servers[i]));
        });
        after(async () => {
          closeAllClients();
          await Promise.all(Object.values(started).map((s) => s?.stop()));
        });
        const servers = Object.fromEntries(names.map((n) => [n, { get url() { return started[n].url; } }]));
        body({ parser, ...servers });
      });
    }
  });
}

// eachMode declares one suite per transport mode, calling body with the
// mode and the ways to connect in it to srv.
export function eachMode(parser, srv, body) {
  for (const mode of MODES) {
    describe(`${mode.name} mode`, () => {
      const clientOpts = (extra = {}) => ({ ...mode.opts, ...parserOpts(parser), ...extra });
      const conn = (extra = {}) => sioConnect(srv.url, clientOpts(extra));
      // Where a test needs a known transport, in upgrade mode it waits
      // for the upgrade to finish first.
      const settled = async (socket) => {
        if (mode.upgrades) {
          await until(() => socket.io.engine?.transport?.name === "websocket", "upgrade to websocket");
        }
        return socket;
      };
      body({ mode, clientOpts, conn, settled });
    });
  }
}
