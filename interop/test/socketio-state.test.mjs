// Socket.IO interop, what lasts between events: rooms and broadcasts,
// disconnection, the heartbeat and connect timeout, and connection state
// recovery, with the official socket.io-client 4 against the server chosen
// by SERVER, in every transport mode and with both parsers (see
// socketio.test.mjs). The one expectation that differs between the
// servers, recovery of a client that had received no event yet, is marked
// where it is asserted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  SERVER,
  createClient,
  waitFor,
  waitClose,
  sioManager,
  sioClient,
  sioConnect,
  connected,
  once,
  ask1,
  serverReason,
  until,
} from "./helpers.mjs";
import {
  freshNsp,
  freshRoom,
  stopAnsweringPings,
  watchNone,
  sioSuites,
  eachMode,
} from "./sio-suite.mjs";

sioSuites("rooms, disconnection, recovery", ["srv", "hb", "rec"], ({ parser, srv, hb, rec }) => {
  eachMode(parser, srv, ({ mode, clientOpts, conn, settled }) => {
    describe("rooms and broadcasts", () => {
      test("join, leave, rooms", async () => {
        const socket = await conn({ nsp: freshNsp() });
        const [r1, r2] = ["a-room", "b-room"];
        assert.deepEqual(await ask1(socket, "rooms"), [socket.id]);
        assert.deepEqual(await ask1(socket, "join", r1), [socket.id, r1].sort());
        assert.deepEqual(await ask1(socket, "join", r2), [socket.id, r1, r2].sort());
        assert.deepEqual(await ask1(socket, "join", r2), [socket.id, r1, r2].sort());
        assert.deepEqual(await ask1(socket, "leave", r1), [socket.id, r2].sort());
        assert.deepEqual(await ask1(socket, "leave", "never-joined"), [socket.id, r2].sort());
        assert.deepEqual(await ask1(socket, "rooms"), [socket.id, r2].sort());
        socket.disconnect();
      });

      test("to(room) reaches the room but not the sender", async () => {
        const nsp = freshNsp();
        const room = freshRoom();
        const [a, b, c] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        await ask1(a, "join", room);
        await ask1(b, "join", room);
        const hello = once(b, "hello");
        const nothing = watchNone([a, c], "hello");
        assert.equal(await ask1(a, "to", room, "hello", "world", { n: 1 }), "ok");
        assert.deepEqual(await hello, ["world", { n: 1 }]);
        await nothing(a);
        // A socket's own id is a room: to(id) reaches that socket.
        const direct = once(c, "direct");
        await ask1(a, "to", c.id, "direct", 1);
        assert.deepEqual(await direct, [1]);
        for (const s of [a, b, c]) s.disconnect();
      });

      test("broadcast to the whole namespace, sender included, other namespaces not", async () => {
        const nsp = freshNsp();
        const [a, b, other] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp: freshNsp() })]);
        const got = [once(a, "news"), once(b, "news")];
        let leaked = false;
        other.on("news", () => (leaked = true));
        assert.equal(await ask1(a, "all", "news", 1, "two"), "ok");
        assert.deepEqual(await Promise.all(got), [[1, "two"], [1, "two"]]);
        // other's namespace gets its own barrier, sent after.
        const barrier = once(other, "barrier");
        await ask1(other, "all", "barrier");
        await barrier;
        assert.equal(leaked, false);
        for (const s of [a, b, other]) s.disconnect();
      });

      test("except(room)", async () => {
        const nsp = freshNsp();
        const room = freshRoom();
        const [a, b, c] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        await ask1(b, "join", room);
        const got = [once(a, "ex"), once(c, "ex")];
        const nothing = watchNone([b], "ex");
        assert.equal(await ask1(a, "except", room, "ex", "x"), "ok");
        assert.deepEqual(await Promise.all(got), [["x"], ["x"]]);
        await nothing(a);
        for (const s of [a, b, c]) s.disconnect();
      });

      test("broadcast with acknowledgements from several clients", async () => {
        const nsp = freshNsp();
        const clients = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        clients.forEach((s, i) => s.on("poll", (cb) => cb("ABC"[i], "ignored")));
        const res = await ask1(clients[0], "ask-all", "poll", 2000);
        assert.equal(res.error, undefined);
        assert.deepEqual([...res.answers].sort(), ["A", "B", "C"]);
        // One client that never answers: the broadcast times out with
        // the answers that came.
        clients[2].off("poll");
        clients[2].on("poll", () => {});
        const partial = await ask1(clients[1], "ask-all", "poll", 300);
        assert.equal(partial.error, "socketio: operation has timed out");
        assert.deepEqual([...partial.answers].sort(), ["A", "B"]);
        for (const s of clients) s.disconnect();
      });

      test("fetchSockets with rooms and data", async () => {
        const nsp = freshNsp();
        const room = freshRoom();
        const [a, b, c] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        await ask1(a, "join", room);
        await ask1(a, "set-data", { n: 1, tags: ["x"] });
        await ask1(b, "set-data", "b-data");
        await ask1(c, "set-data", null);
        const byId = (list) => [...list].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
        assert.deepEqual(
          await ask1(c, "fetch", ""),
          byId([
            { id: a.id, rooms: [a.id, room].sort(), data: { n: 1, tags: ["x"] } },
            { id: b.id, rooms: [b.id], data: "b-data" },
            { id: c.id, rooms: [c.id], data: null },
          ]),
        );
        assert.deepEqual(await ask1(c, "fetch", room), [{ id: a.id, rooms: [a.id, room].sort(), data: { n: 1, tags: ["x"] } }]);
        assert.deepEqual(await ask1(c, "fetch", freshRoom()), []);
        for (const s of [a, b, c]) s.disconnect();
      });

      test("a socket's data defaults to an empty object", async () => {
        const socket = await conn({ nsp: freshNsp() });
        assert.deepEqual(await ask1(socket, "fetch", ""), [{ id: socket.id, rooms: [socket.id], data: {} }]);
        socket.disconnect();
      });

      test("socketsJoin and socketsLeave", async () => {
        const nsp = freshNsp();
        const [r1, r2] = [freshRoom(), freshRoom()];
        const [a, b, c] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        await ask1(a, "join", r1);
        await ask1(b, "join", r1);
        assert.equal(await ask1(c, "sockets-join", r1, r2), "ok");
        assert.deepEqual(await ask1(a, "rooms"), [a.id, r1, r2].sort());
        assert.deepEqual(await ask1(b, "rooms"), [b.id, r1, r2].sort());
        assert.deepEqual(await ask1(c, "rooms"), [c.id]);
        // Every socket of the namespace (no room), into r2.
        assert.equal(await ask1(a, "sockets-join", "", r2), "ok");
        assert.deepEqual(await ask1(c, "rooms"), [c.id, r2].sort());
        assert.equal(await ask1(c, "sockets-leave", r1, r2), "ok");
        assert.deepEqual(await ask1(a, "rooms"), [a.id, r1].sort());
        assert.deepEqual(await ask1(b, "rooms"), [b.id, r1].sort());
        assert.deepEqual(await ask1(c, "rooms"), [c.id, r2].sort());
        for (const s of [a, b, c]) s.disconnect();
      });

      test("disconnectSockets of a room", async () => {
        const nsp = freshNsp();
        const room = freshRoom();
        const [a, b, c] = await Promise.all([conn({ nsp }), conn({ nsp }), conn({ nsp })]);
        await ask1(a, "join", room);
        await ask1(b, "join", room);
        const [ida, idb] = [a.id, b.id];
        const gone = [once(a, "disconnect"), once(b, "disconnect")];
        c.emit("disconnect-room", room, false);
        assert.deepEqual((await Promise.all(gone)).map((d) => d[0]), ["io server disconnect", "io server disconnect"]);
        assert.equal(await serverReason(c, ida), "server namespace disconnect");
        assert.equal(await serverReason(c, idb), "server namespace disconnect");
        assert.equal(c.connected, true);
        assert.equal(await ask1(c, "echo", "still"), "still");
        c.disconnect();
      });

      test("disconnectSockets of a room with close: the whole connection goes", async () => {
        const nsp = freshNsp();
        const room = freshRoom();
        const c = await conn({ nsp });
        const manager = sioManager(srv.url, clientOpts());
        const d1 = sioClient(srv.url, { manager, nsp });
        const d2 = sioClient(srv.url, { manager, nsp: "/chat" });
        await Promise.all([connected(d1), connected(d2)]);
        await ask1(d1, "join", room);
        const [id1, id2] = [d1.id, d2.id];
        const closed = [once(d1, "disconnect"), once(d2, "disconnect")];
        c.emit("disconnect-room", room, true);
        assert.deepEqual((await Promise.all(closed)).map((d) => d[0]), ["io server disconnect", "io server disconnect"]);
        assert.equal(await serverReason(c, id1), "server namespace disconnect");
        assert.equal(await serverReason(c, id2), "server namespace disconnect");
        assert.equal(c.connected, true);
        c.disconnect();
      });

      test("volatile reaches a connected client", async () => {
        const socket = await settled(await conn());
        // A volatile packet is dropped, by design, when the transport
        // cannot take it at that instant: over polling, when no GET
        // is pending (the client's next GET may reach the server
        // after the POST that asked for the packet). So the request
        // is repeated until one arrives, within a deadline; every
        // copy must arrive intact.
        const got = [];
        socket.on("vol", (...args) => got.push(args));
        const deadline = Date.now() + 3000;
        while (got.length === 0 && Date.now() < deadline) {
          socket.emit("volatile", "vol", 1, { two: 2 });
          await ask1(socket, "echo", "round trip");
          if (got.length === 0) await until(() => got.length > 0, "volatile", 100).catch(() => {});
        }
        assert.ok(got.length > 0, "no volatile packet arrived within 3 s");
        for (const args of got) assert.deepEqual(args, [1, { two: 2 }]);
        socket.disconnect();
      });
    });

    describe("disconnection", () => {
      test("server disconnect: io server disconnect, other namespaces stay", async () => {
        const manager = sioManager(srv.url, clientOpts());
        const root = sioClient(srv.url, { manager });
        const chat = sioClient(srv.url, { manager, nsp: "/chat" });
        await Promise.all([connected(root), connected(chat)]);
        const id = chat.id;
        const gone = once(chat, "disconnect");
        chat.emit("disconnect-me", false);
        assert.equal((await gone)[0], "io server disconnect");
        assert.equal(await serverReason(root, id), "server namespace disconnect");
        assert.equal(root.connected, true);
        assert.equal(await ask1(root, "echo", "still"), "still");
        root.disconnect();
      });

      test("server disconnect with close: every namespace of the connection goes", async () => {
        const manager = sioManager(srv.url, clientOpts());
        const root = sioClient(srv.url, { manager });
        const chat = sioClient(srv.url, { manager, nsp: "/chat" });
        await Promise.all([connected(root), connected(chat)]);
        const [rootId, chatId] = [root.id, chat.id];
        const gone = [once(root, "disconnect"), once(chat, "disconnect")];
        chat.emit("disconnect-me", true);
        assert.deepEqual((await Promise.all(gone)).map((d) => d[0]), ["io server disconnect", "io server disconnect"]);
        const observer = await conn();
        assert.equal(await serverReason(observer, rootId), "server namespace disconnect");
        assert.equal(await serverReason(observer, chatId), "server namespace disconnect");
        observer.disconnect();
      });

      test("client disconnect: io client disconnect, client namespace disconnect", async () => {
        const [socket, observer] = await Promise.all([conn(), conn()]);
        const id = socket.id;
        const gone = once(socket, "disconnect");
        socket.disconnect();
        assert.equal((await gone)[0], "io client disconnect");
        assert.equal(await serverReason(observer, id), "client namespace disconnect");
        observer.disconnect();
      });

      test("client closes the connection: transport close on both sides", async () => {
        const [socket, observer] = await Promise.all([conn(), conn()]);
        await settled(socket);
        const id = socket.id;
        const gone = once(socket, "disconnect");
        socket.io.engine.close();
        // The client reports the reason of its own engine.
        assert.equal((await gone)[0], "forced close");
        assert.equal(await serverReason(observer, id), "transport close");
        observer.disconnect();
      });

      test("server drops the connection: the client reconnects with a new id", async () => {
        const observer = await conn();
        const socket = await conn({ reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 });
        await settled(socket);
        const id = socket.id;
        const gone = once(socket, "disconnect");
        const back = once(socket, "connect", 5000);
        socket.emit("drop");
        assert.equal((await gone)[0], "transport close");
        await back;
        assert.notEqual(socket.id, id);
        // Without recovery the CONNECT packet carries no pid, so the
        // client's recovered flag is left undefined.
        assert.equal(socket.recovered, undefined);
        assert.equal(await ask1(socket, "echo", "back"), "back");
        assert.equal(await serverReason(observer, id), "forced close");
        socket.disconnect();
        observer.disconnect();
      });
    });

    describe("heartbeat and connect timeout (pingInterval 300 ms, pingTimeout 400 ms, connectTimeout 500 ms)", () => {
      const hconn = (extra = {}) => sioConnect(hb.url, clientOpts(extra));

      test("the connection stays up across 3 pings", { timeout: 10000 }, async () => {
        const socket = await hconn();
        const engine = socket.io.engine;
        for (let i = 0; i < 3; i++) await waitFor(engine, "ping", 2000);
        assert.equal(socket.connected, true);
        assert.equal(await ask1(socket, "echo", "still"), "still");
        socket.disconnect();
      });

      test("a client that stops answering pings: ping timeout", { timeout: 10000 }, async () => {
        const [socket, observer] = await Promise.all([hconn(), hconn()]);
        await settled(socket);
        const id = socket.id;
        const gone = once(socket, "disconnect", 3000);
        stopAnsweringPings(socket.io.engine);
        assert.equal((await gone)[0], "transport close");
        assert.equal(await serverReason(observer, id), "ping timeout");
        observer.disconnect();
      });

      test("a connection that joins no namespace is closed after connectTimeout", { timeout: 10000 }, async () => {
        const engine = createClient(hb.url, { path: "/socket.io/", ...mode.opts });
        await waitFor(engine, "open");
        const closed = await waitClose(engine, 3000);
        assert.equal(closed.reason, "transport close");
      });
    });

    describe("connection state recovery", () => {
      const rconn = (extra = {}) => sioConnect(rec.url, clientOpts(extra));
      // Closes the connection, from the client ("client") or from the
      // server ("server"), and waits until the server recorded it, so
      // that the session is stored before anything else happens.
      const cut = async (socket, observer, by) => {
        await settled(socket);
        const id = socket.id;
        const gone = once(socket, "disconnect");
        if (by === "client") socket.io.engine.close();
        else socket.emit("drop");
        assert.equal((await gone)[0], by === "client" ? "forced close" : "transport close");
        assert.equal(await serverReason(observer, id), by === "client" ? "transport close" : "forced close");
      };
      // Waits until got holds n events, then one round trip more, so
      // that a duplicate sent after them would have arrived too.
      const settle = async (socket, got, n) => {
        await until(() => got.length >= n, `${n} events`);
        await ask1(socket, "echo", "barrier");
      };

      test("missed events arrive in order; same id, rooms and data", async () => {
        const room = freshRoom();
        const [a, b] = await Promise.all([rconn(), rconn()]);
        assert.equal(a.recovered, false);
        await ask1(a, "join", room);
        await ask1(a, "set-data", { n: 1 });
        const got = [];
        a.on("news", (...args) => got.push(args));
        await ask1(b, "to", room, "news", 1);
        await settle(a, got, 1);
        const id = a.id;
        await cut(a, b, "client");
        await ask1(b, "to", room, "news", 2);
        await ask1(b, "all", "news", 3);
        await ask1(b, "to", room, "news", 4, { four: [4] });
        await ask1(b, "to", freshRoom(), "news", "not for a");
        a.connect();
        await connected(a);
        assert.equal(a.recovered, true);
        assert.equal(a.id, id);
        await settle(a, got, 4);
        assert.deepEqual(got.map((x) => x.slice(0, -1)), [[1], [2], [3], [4, { four: [4] }]]);
        // Each event ends with its offset, a string, all different.
        const offsets = got.map((x) => x[x.length - 1]);
        assert.ok(offsets.every((o) => typeof o === "string"), `offsets ${JSON.stringify(offsets)}`);
        assert.equal(new Set(offsets).size, offsets.length);
        assert.deepEqual(await ask1(a, "rooms"), [id, room].sort());
        // The auth payload is what the client sent to recover: its
        // private session id and the offset of the last event it got
        // before the cut.
        const hs = await ask1(a, "handshake");
        assert.deepEqual(Object.keys(hs.auth).sort(), ["offset", "pid"]);
        assert.equal(typeof hs.auth.pid, "string");
        assert.equal(hs.auth.offset, offsets[0]);
        assert.deepEqual({ ...hs, auth: {} }, { auth: {}, query: "", nsp: "/", recovered: true });
        assert.deepEqual(await ask1(b, "fetch", room), [{ id, rooms: [id, room].sort(), data: { n: 1 } }]);
        a.disconnect();
        b.disconnect();
      });

      test("recovers again and again without duplicates", { timeout: 15000 }, async () => {
        const [a, b] = await Promise.all([rconn(), rconn()]);
        const got = [];
        a.on("news", (n) => got.push(n));
        await ask1(b, "all", "news", 0);
        await settle(a, got, 1);
        const id = a.id;
        for (const [round, by] of [[1, "client"], [2, "server"], [3, "client"], [4, "server"]]) {
          await cut(a, b, by);
          await ask1(b, "all", "news", round);
          a.connect();
          await connected(a);
          assert.equal(a.recovered, true, `round ${round}`);
          assert.equal(a.id, id, `round ${round}`);
          await settle(a, got, round + 1);
          assert.deepEqual(got, Array.from({ length: round + 1 }, (_, i) => i), `round ${round}`);
        }
        a.disconnect();
        b.disconnect();
      });

      test("a client disconnect is not recovered", async () => {
        const [a, b] = await Promise.all([rconn(), rconn()]);
        const got = [];
        a.on("news", (n) => got.push(n));
        await ask1(b, "all", "news", 1);
        await settle(a, got, 1);
        const id = a.id;
        a.disconnect();
        assert.equal(await serverReason(b, id), "client namespace disconnect");
        await ask1(b, "all", "news", 2);
        a.connect();
        await connected(a);
        assert.equal(a.recovered, false);
        assert.notEqual(a.id, id);
        await ask1(a, "echo", "barrier");
        assert.deepEqual(got, [1]);
        a.disconnect();
        b.disconnect();
      });

      // The reference only restores a session when the client sends
      // an offset, and socket.io-client has one only after its first
      // event: a client cut off before any event is not recovered.
      // The Go server restores it from the session id alone (the
      // events missed are those since the session was stored). This
      // is the one place where the expectation depends on SERVER; see
      // README, differences.
      test("a client cut off before any event (Go recovers, the reference does not)", async () => {
        const [a, b] = await Promise.all([rconn(), rconn()]);
        const got = [];
        a.on("news", (n) => got.push(n));
        const id = a.id;
        await cut(a, b, "client");
        await ask1(b, "all", "news", 1);
        a.connect();
        await connected(a);
        if (SERVER === "go") {
          assert.equal(a.recovered, true);
          assert.equal(a.id, id);
          await settle(a, got, 1);
          assert.deepEqual(got, [1]);
        } else {
          assert.equal(a.recovered, false);
          assert.notEqual(a.id, id);
          await ask1(a, "echo", "barrier");
          assert.deepEqual(got, []);
        }
        a.disconnect();
        b.disconnect();
      });
    });
  });
});
