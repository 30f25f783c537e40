// Socket.IO interop: the official socket.io-client 4 against the server
// chosen by SERVER (go = interop/sioserver, node = the socket.io reference
// in servers/socketio-node.mjs), over every transport mode and both
// parsers: namespaces and the handshake, events and acknowledgements,
// binary, onAny and errors (socketio-state.test.mjs has rooms,
// disconnection and recovery; sio-suite.mjs the frame both share). Every
// expectation below is what the reference does; the Go server must do the
// same.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  sioManager,
  sioClient,
  connected,
  once,
  emitAck,
  emitAckWithin,
  ask1,
  serverReason,
  until,
  plain,
  bytes,
} from "./helpers.mjs";
import {
  freshNsp,
  sioSuites,
  eachMode,
} from "./sio-suite.mjs";

// The keys of socket.handshake, in the Node server's order.
const HANDSHAKE_KEYS = ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"];

// Checks the parts of a socket.handshake that differ by nature (time,
// issued, address) by their type and format, and returns the rest to
// compare: the time's zone name must be the one Node gives a Date here.
function checkHandshakeTimes(h) {
  assert.match(h.time, /^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4} \(.+\)$/);
  const zone = (t) => t.slice(t.indexOf("("));
  assert.equal(zone(h.time), zone(new Date(h.issued).toString()), "time zone name");
  assert.ok(Math.abs(Date.parse(h.time) - h.issued) < 1000, `time ${h.time} is not issued ${h.issued}`);
  assert.equal(typeof h.issued, "number");
  assert.ok(Math.abs(Date.now() - h.issued) < 60_000, `issued ${h.issued}`);
  assert.equal(typeof h.address, "string");
  assert.match(h.address, /127\.0\.0\.1$/);
  const { time, issued, address, ...rest } = h;
  return rest;
}

// A plain HTTP/1.1 GET with the header lines given as they are (repeated
// names included, which fetch would merge), answered with Connection:
// close. Resolves with the body.
function rawGet(port, path, lines) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks = [];
    sock.setTimeout(5000, () => sock.destroy(new Error(`GET ${path}: no answer`)));
    sock.on("error", reject);
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head, ...body] = text.split("\r\n\r\n");
      if (!/^HTTP\/1\.1 200/.test(head)) return reject(new Error(`GET ${path}: ${head}`));
      let data = body.join("\r\n\r\n");
      if (/\r\ntransfer-encoding: chunked/i.test(head)) {
        let out = "";
        for (let rest = data; ; ) {
          const i = rest.indexOf("\r\n");
          const n = parseInt(rest.slice(0, i), 16);
          if (!n) break;
          out += rest.slice(i + 2, i + 2 + n);
          rest = rest.slice(i + 2 + n + 2);
        }
        data = out;
      }
      resolve(data);
    });
    sock.write(`GET ${path} HTTP/1.1\r\n${lines.map((l) => l + "\r\n").join("")}Connection: close\r\n\r\n`);
  });
}

sioSuites("namespaces, events, binary, errors", ["srv"], ({ parser, srv }) => {
  if (parser === "default") {
    test("socket.handshake: repeated query names, repeated headers and cookies, auth", async () => {
      const { host, port } = new URL(srv.url);
      const path = "/socket.io/?EIO=4&transport=polling&a=1&a=2&b=&c&e=x+y&f=%E2%82%AC&d=%zz&g;h=1&u=%e2%82%ff&a=3&10=t&2=w&01=z";
      const open = await rawGet(port, path, [
        `Host: ${host}`, "Cookie: a=1", "Cookie: b=2", "X-Dup: one", "X-Dup: two", "User-Agent: first",
        "User-Agent: second", "Accept: text/plain", "Accept: */*", "Origin: http://example.com",
      ]);
      const { sid } = JSON.parse(open.slice(1));
      const base = `${srv.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      const post = async (body) => assert.equal(await (await fetch(base, { method: "POST", body })).text(), "ok");
      const poll = async () => (await (await fetch(base)).text()).split("\x1e");
      await post('40{"token":"t","n":1}');
      assert.match((await poll())[0], /^40\{"sid":/);
      await post('421["handshake-full"]');
      const answer = (await poll()).find((p) => p.startsWith("431"));
      const [h] = JSON.parse(answer.slice(3));
      assert.deepEqual(Object.keys(h), HANDSHAKE_KEYS);
      // As written, not only as parsed (a parsed object puts names that
      // are array indices first whatever the text's order).
      assert.match(answer, /"query":\{"2":"w","10":"t","EIO":"4","transport":"polling","a":"3","b":"","c":"","e":"x y","f":"€","d":"%zz","g;h":"1","u":"\ufffd\ufffd","01":"z"\}/);
      assert.deepEqual(checkHandshakeTimes(h), {
        headers: {
          host,
          cookie: "a=1; b=2",
          "x-dup": "one, two",
          "user-agent": "first",
          accept: "text/plain, */*",
          origin: "http://example.com",
          connection: "close",
        },
        xdomain: true,
        secure: false,
        url: path,
        query: { EIO: "4", transport: "polling", a: "3", b: "", c: "", e: "x y", f: "€", d: "%zz", "g;h": "1", u: "\ufffd\ufffd", 10: "t", 2: "w", "01": "z" },
        auth: { token: "t", n: 1 },
      });
      await post("1");
    });
  }

  eachMode(parser, srv, ({ mode, clientOpts, conn, settled }) => {
    describe("namespaces and handshake", () => {
      test("/ and /chat multiplexed on one Manager", async () => {
        const manager = sioManager(srv.url, clientOpts());
        const root = sioClient(srv.url, { manager });
        const chat = sioClient(srv.url, { manager, nsp: "/chat" });
        await Promise.all([connected(root), connected(chat)]);
        assert.equal(root.io, chat.io);
        assert.equal(typeof root.id, "string");
        assert.notEqual(root.id, chat.id);
        if (!mode.upgrades) assert.equal(root.io.engine.transport.name, mode.final);
        assert.equal((await ask1(root, "handshake")).nsp, "/");
        assert.equal((await ask1(chat, "handshake")).nsp, "/chat");
        assert.equal(await ask1(chat, "echo", "chat"), "chat");
        assert.equal(await ask1(root, "echo", "root"), "root");
        // Leaving one namespace keeps the connection and the other.
        const chatId = chat.id;
        chat.disconnect();
        assert.equal(await serverReason(root, chatId), "client namespace disconnect");
        assert.equal(root.connected, true);
        assert.equal(manager.engine.readyState, "open");
        assert.equal(await ask1(root, "echo", "still"), "still");
        root.disconnect();
      });

      test("dynamic namespace", async () => {
        const nsp = freshNsp();
        const socket = await conn({ nsp });
        assert.deepEqual(await ask1(socket, "handshake"), { auth: {}, query: "", nsp, recovered: false });
        assert.equal(await ask1(socket, "echo", 1), 1);
        socket.disconnect();
      });

      test("invalid namespace: connect_error Invalid namespace, others unaffected", async () => {
        const manager = sioManager(srv.url, clientOpts());
        const root = sioClient(srv.url, { manager });
        const bad = sioClient(srv.url, { manager, nsp: "/nope" });
        const upper = sioClient(srv.url, { manager, nsp: "/dyn-UPPER" });
        const [[err], [err2]] = await Promise.all([once(bad, "connect_error"), once(upper, "connect_error"), connected(root)]);
        assert.equal(err.message, "Invalid namespace");
        assert.equal(err.data, undefined);
        assert.equal(err2.message, "Invalid namespace");
        assert.equal(bad.connected, false);
        assert.equal(await ask1(root, "echo", "ok"), "ok");
        bad.disconnect();
        upper.disconnect();
        root.disconnect();
      });

      test("middleware refusal: connect_error with message and data", async () => {
        for (const auth of [{ token: "wrong" }, undefined]) {
          const socket = sioClient(srv.url, clientOpts({ nsp: "/auth", auth }));
          const [err] = await once(socket, "connect_error");
          assert.equal(err.message, "unauthorized");
          assert.deepEqual(err.data, { code: 401 });
          assert.equal(socket.connected, false);
          socket.disconnect();
        }
      });

      test("auth payload and query in the handshake; middleware data", async () => {
        const auth = { token: "secret", user: "ann", n: 7, list: [1, "x"] };
        const socket = await conn({ nsp: "/auth", auth, query: { q: "a b&c=é" } });
        assert.deepEqual(await ask1(socket, "handshake"), { auth, query: "a b&c=é", nsp: "/auth", recovered: false });
        const mine = (await ask1(socket, "fetch", "")).find((s) => s.id === socket.id);
        assert.deepEqual(mine, { id: socket.id, rooms: [socket.id], data: { user: "ann" } });
        socket.disconnect();
      });

      test("socket.handshake in Node's shape", async () => {
        const auth = { token: "t", n: 1, list: [true, null] };
        const socket = await conn({ auth, query: { q: "x y", empty: "", "é": "€" }, extraHeaders: { "x-test": "1", cookie: "a=1; b=2" } });
        const h = await ask1(socket, "handshake-full");
        assert.deepEqual(Object.keys(h), HANDSHAKE_KEYS);
        const rest = checkHandshakeTimes(h);
        const transport = mode.final === "websocket" && !mode.upgrades ? "websocket" : "polling";
        const { t, ...query } = rest.query;
        assert.ok(t === undefined || typeof t === "string", `t ${t}`);
        assert.deepEqual(query, { q: "x y", empty: "", "é": "€", EIO: "4", transport });
        assert.ok(rest.url.startsWith("/socket.io/?"), rest.url);
        // The query's names in the order the URL has them.
        assert.deepEqual(Object.keys(rest.query), [...new Set(new URL(rest.url, "http://x").searchParams.keys())]);
        assert.equal(rest.xdomain, false);
        assert.equal(rest.secure, false);
        assert.deepEqual(rest.auth, auth);
        const hd = rest.headers;
        assert.equal(hd["x-test"], "1");
        assert.equal(hd.cookie, "a=1; b=2");
        assert.equal(hd.host, new URL(srv.url).host);
        for (const [k, v] of Object.entries(hd)) {
          assert.equal(k, k.toLowerCase());
          assert.equal(typeof v, "string", `header ${k}`);
        }
        if (transport === "websocket") {
          assert.equal(hd.upgrade.toLowerCase(), "websocket");
          assert.equal(typeof hd["sec-websocket-key"], "string");
        }
        socket.disconnect();
      });
    });

    describe("events and acknowledgements", () => {
      test("client to server with an acknowledgement", async () => {
        const socket = await conn();
        const args = [1, "two", { three: [3], four: { five: null } }, null, true, [], 1.5, -2, "é😀"];
        assert.deepEqual(await emitAck(socket, "echo", ...args), args);
        assert.equal(await socket.timeout(5000).emitWithAck("echo", "first", "second"), "first");
        assert.deepEqual(await emitAck(socket, "echo"), []);
        // Without an acknowledgement the server answers with an event.
        const echoed = once(socket, "echo");
        socket.emit("echo", "x", { y: 1 });
        assert.deepEqual(await echoed, ["x", { y: 1 }]);
        socket.disconnect();
      });

      test("server to client with an acknowledgement", async () => {
        const socket = await conn();
        socket.on("q", (x, y, cb) => cb(x * 2, y, "ok"));
        assert.deepEqual(await ask1(socket, "ask", 2000, "q", 21, { a: [1] }), { answer: [42, { a: [1] }, "ok"] });
        socket.on("none", (cb) => cb());
        assert.deepEqual(await ask1(socket, "ask", 2000, "none"), { answer: [] });
        socket.disconnect();
      });

      test("server to client acknowledgement times out", async () => {
        const socket = await conn();
        socket.on("silent", () => {});
        const timedOut = { error: "socketio: operation has timed out" };
        assert.deepEqual(await ask1(socket, "ask", 150, "silent"), timedOut);
        assert.deepEqual(await ask1(socket, "ask", 150, "unhandled"), timedOut);
        assert.equal(await ask1(socket, "echo", "alive"), "alive");
        socket.disconnect();
      });

      test("an event without a handler is never acknowledged", async () => {
        const socket = await conn();
        await assert.rejects(emitAckWithin(300, socket, "no-such-event", 1), /no acknowledgement/);
        assert.equal(socket.connected, true);
        assert.equal(await ask1(socket, "echo", "alive"), "alive");
        socket.disconnect();
      });

      test("200 events each way keep their order", async () => {
        const socket = await conn();
        const got = [];
        socket.on("echo", (n) => got.push(n));
        const acks = [];
        for (let i = 0; i < 200; i++) {
          socket.emit("echo-emit", i);
          acks.push(emitAck(socket, "echo", i));
        }
        const answers = await Promise.all(acks);
        assert.deepEqual(answers, Array.from({ length: 200 }, (_, i) => [i]));
        await until(() => got.length >= 200, "200 echo events");
        assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
        socket.disconnect();
      });

      test("unicode and a 100 KB string", async () => {
        const socket = await conn();
        const texts = ["héllo", "😀🎉👍🏽 🇫🇷 👨‍👩‍👧", "中文 日本語 한국어", "𝄞 \u2028 \u2029 \ufeff", "x".repeat(100 * 1024)];
        assert.deepEqual(await emitAck(socket, "echo", ...texts), texts);
        assert.deepEqual(await emitAck(socket, "echo", { "ключ": "значение", "😀": ["é"] }), [{ "ключ": "значение", "😀": ["é"] }]);
        socket.disconnect();
      });
    });

    describe("binary", () => {
      test("from the client, nested, echoed back", async () => {
        const socket = await conn();
        const args = [
          Buffer.from([9, 8, 7]),
          new Uint8Array([1, 2]),
          new Uint8Array([3, 4]).buffer,
          { x: Buffer.from([1]), l: [new Uint8Array([5]), "text", { deep: [Buffer.from([0, 255])] }] },
          Buffer.alloc(0),
          "after",
          42,
        ];
        const echo = await emitAck(socket, "echo", ...args);
        assert.deepEqual(plain(echo), plain(args));
        if (parser === "default") {
          // Binary comes back as a Buffer from both servers. With
          // msgpack the reference returns the ArrayBuffer and typed
          // arrays it decoded from msgpack's ext type 0 as
          // ArrayBuffer (see README, differences).
          for (const b of [echo[0], echo[1], echo[2], echo[3].x, echo[3].l[0], echo[3].l[2].deep[0], echo[4]]) {
            assert.ok(Buffer.isBuffer(b), `${b?.constructor?.name} is not a Buffer`);
          }
        }
        socket.disconnect();
      });

      test("from the server, nested", async () => {
        const socket = await conn();
        const got = once(socket, "binary");
        socket.emit("binary");
        const args = await got;
        assert.deepEqual(plain(args), plain([Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]), list: [Buffer.from([6])] }]));
        for (const b of [args[0], args[1].nested, args[1].list[0]]) {
          assert.ok(Buffer.isBuffer(b), `${b?.constructor?.name} is not a Buffer`);
        }
        socket.disconnect();
      });

      test("nested in objects, into a handler's map: a Buffer at every depth", async () => {
        const socket = await conn();
        const sent = { a: { b: Buffer.from([1, 2]) }, list: [Buffer.from([3]), { c: Buffer.from([4, 5]) }] };
        const [echo, got] = await emitAck(socket, "nested-binary", sent);
        assert.deepEqual(got, { "a.b": true, "list.0": true, "list.1.c": true });
        assert.deepEqual(plain(echo), plain(sent));
        for (const b of [echo.a.b, echo.list[0], echo.list[1].c]) {
          assert.ok(Buffer.isBuffer(b), `${b?.constructor?.name} is not a Buffer`);
        }
        socket.disconnect();
      });

      test("in acknowledgements both ways", async () => {
        const socket = await conn();
        socket.on("q", (b, cb) => cb({ back: b, more: Buffer.from([7, 7]) }));
        const res = await ask1(socket, "ask", 2000, "q", Buffer.from([1, 2, 3]));
        assert.deepEqual(plain(res), { answer: [{ back: { bytes: [1, 2, 3] }, more: { bytes: [7, 7] } }] });
        socket.disconnect();
      });

      test("100 KB of binary", async () => {
        const socket = await conn();
        const big = bytes(100 * 1024);
        const [echo] = await emitAck(socket, "echo", big);
        assert.ok(Buffer.isBuffer(echo) || echo instanceof ArrayBuffer, "not binary");
        assert.ok(Buffer.from(echo).equals(big), "bytes differ");
        socket.disconnect();
      });
    });

    describe("onAny", () => {
      test("client onAny sees every incoming event", async () => {
        const socket = await conn({ nsp: freshNsp() });
        const seen = [];
        socket.onAny((event, ...args) => seen.push([event, ...args]));
        const echoed = once(socket, "echo");
        socket.emit("echo-emit", "x", 1);
        await echoed;
        const news = once(socket, "news");
        await ask1(socket, "all", "news", { a: 1 });
        await news;
        // Acknowledgements are not events.
        assert.deepEqual(seen, [["echo", "x", 1], ["news", { a: 1 }]]);
        socket.disconnect();
      });

      test("server onAny sees every incoming event", async () => {
        const socket = await conn();
        socket.emit("foo", 1, { a: 2 });
        socket.emit("bar", Buffer.from([1, 2]));
        assert.equal(await ask1(socket, "echo", "e"), "e");
        const seen = await ask1(socket, "any?");
        assert.deepEqual(plain(seen), [
          { event: "foo", args: [1, { a: 2 }] },
          { event: "bar", args: [{ bytes: [1, 2] }] },
          { event: "echo", args: ["e"] },
          { event: "any?", args: [] },
        ]);
        socket.disconnect();
      });
    });

    describe("errors", () => {
      test("emitting a reserved event name fails on the server", async () => {
        const socket = await conn();
        assert.equal(await ask1(socket, "emit-reserved"), true);
        assert.equal(socket.connected, true);
        socket.disconnect();
      });

      test("a throwing handler breaks neither the socket nor the server", async () => {
        const socket = await conn();
        socket.emit("panic");
        socket.emit("panic");
        assert.equal(await ask1(socket, "echo", "after"), "after");
        assert.equal(socket.connected, true);
        const other = await conn();
        assert.equal(await ask1(other, "echo", "new"), "new");
        socket.disconnect();
        other.disconnect();
      });
    });

  });
});
