// Engine.IO interop: the official engine.io-client 6 against the server
// chosen by SERVER (go = interop/eioserver, node = the engine.io reference
// in servers/engineio-node.mjs). Every expectation below is what the
// reference does; the Go server must do the same.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  SERVER,
  startServer,
  connect,
  createClient,
  closeAllClients,
  waitFor,
  waitClose,
  collect,
  request,
  closeReason,
  bytes,
  MODES,
  wsCloseEvent,
} from "./helpers.mjs";

const MAX_PAYLOAD = 3_000_000;


// ASCII text of n bytes that is not one repeated character, so a lost or
// moved chunk shows.
function text(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_";
  let s = "";
  for (let i = 0; s.length < n; i++) s += alphabet[(i * 7 + (i >> 6)) % alphabet.length];
  return s;
}

// Makes the client stop answering pings: it keeps hearing them but sends
// no pong. engine.io-client answers in Socket._onPacket through
// Socket._sendPacket("pong"), and no public option turns that off, so the
// instance method is wrapped. The client's own heartbeat deadline is turned
// off too (Socket._resetPingTimeout): the test is about the server closing
// the session, and with both deadlines armed the client's, 300 ms behind the
// server's, wins the race whenever the machine is slow.
function stopAnsweringPings(socket) {
  const send = socket._sendPacket.bind(socket);
  socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
  clearTimeout(socket._pingTimeoutTimer);
  socket._resetPingTimeout = () => {};
}


describe(`engine.io-client against the ${SERVER} server`, () => {
  after(() => closeAllClients());

  for (const mode of MODES) {
    describe(`${mode.name} mode`, () => {
      const open = (url, extra = {}, opts = {}) => connect(url, { ...mode.opts, ...extra }, opts);
      // Where a test needs a stable transport, in upgrade mode it waits
      // for the upgrade to finish first.
      const settled = (url) => connect(url, mode.opts, { waitUpgrade: !!mode.upgrades });

      describe("echo server", () => {
        let srv;
        before(async () => {
          srv = await startServer({ MAX_PAYLOAD: String(MAX_PAYLOAD) });
        });
        after(async () => {
          closeAllClients();
          await srv.stop();
        });

        test("handshake", async () => {
          const socket = createClient(srv.url, mode.opts);
          const handshake = waitFor(socket, "handshake");
          const opened = waitFor(socket, "open");
          const data = await handshake;
          await opened;
          try {
            assert.equal(typeof socket.id, "string");
            assert.ok(socket.id.length > 0);
            assert.equal(data.sid, socket.id);
            assert.deepEqual(Object.keys(data).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
            assert.deepEqual(data.upgrades, mode.name === "websocket" ? [] : ["websocket"]);
            assert.equal(data.pingInterval, 25000);
            assert.equal(data.pingTimeout, 20000);
            assert.equal(data.maxPayload, MAX_PAYLOAD);
            assert.equal(socket.transport.name, mode.name === "websocket" ? "websocket" : "polling");
          } finally {
            socket.close();
          }
        });

        test("transport in use", async () => {
          const socket = await open(srv.url);
          if (mode.upgrades) {
            const upgraded = await waitFor(socket, "upgrade");
            assert.equal(upgraded.name, "websocket");
          }
          assert.equal(socket.transport.name, mode.final);
          assert.equal(await request(socket, "transport?"), mode.final);
          socket.close();
        });

        for (const size of [1, 1024, 100 * 1024, 1024 * 1024]) {
          test(`text message of ${size} bytes`, { timeout: 20000 }, async () => {
            const socket = await open(srv.url);
            const msg = text(size);
            const echo = await request(socket, msg, 15000);
            assert.equal(typeof echo, "string");
            assert.equal(echo.length, msg.length);
            assert.ok(echo === msg, "echo differs from the message sent");
            socket.close();
          });
        }

        test("unicode text", async () => {
          const socket = await open(srv.url);
          const samples = [
            "héllo wörld",
            "😀🎉👍🏽 emoji, 🇫🇷 flags and 👨‍👩‍👧 joiners",
            "中文字符 日本語のテキスト 한국어",
            "𝄞 astral plane, \u2028 line and \u2029 paragraph separators",
            "mixed: aé中😀\u00a0\ufeff",
            "4", // looks like a packet type
          ];
          const echoes = collect(socket, samples.length);
          for (const s of samples) socket.send(s);
          assert.deepEqual(await echoes, samples);
          socket.close();
        });

        test("empty text message", async () => {
          const socket = await open(srv.url);
          // An empty message is the bare packet "4"; engine.io-parser
          // decodes it without data, so the client's message is undefined.
          const echoes = collect(socket, 2);
          socket.send("");
          socket.send("after");
          assert.deepEqual(await echoes, [undefined, "after"]);
          socket.close();
        });

        for (const size of [0, 1, 255, 1024, 64 * 1024, 1024 * 1024]) {
          test(`binary message of ${size} bytes`, { timeout: 20000 }, async () => {
            const socket = await open(srv.url);
            const payload = bytes(size);
            // The same bytes as a Buffer, a Uint8Array and an ArrayBuffer.
            const views = [
              payload,
              new Uint8Array(payload),
              payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.length),
            ];
            const echoes = collect(socket, views.length, 15000);
            for (const v of views) socket.send(v);
            for (const echo of await echoes) {
              assert.ok(Buffer.isBuffer(echo), `echo is ${typeof echo}, not binary`);
              assert.equal(echo.length, size);
              assert.ok(echo.equals(payload), "echoed bytes differ");
            }
            socket.close();
          });
        }

        test("200 messages echoed in order", async () => {
          const socket = await open(srv.url);
          const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
          const echoes = collect(socket, sent.length);
          for (const m of sent) socket.send(m);
          assert.deepEqual(await echoes, sent);
          socket.close();
        });

        test("text and binary interleaved keep their order", async () => {
          const socket = await open(srv.url);
          const sent = Array.from({ length: 100 }, (_, i) => (i % 2 ? bytes(i) : `t${i}`));
          const echoes = collect(socket, sent.length);
          for (const m of sent) socket.send(m);
          const got = await echoes;
          got.forEach((g, i) => {
            if (typeof sent[i] === "string") assert.equal(g, sent[i], `message ${i}`);
            else assert.ok(Buffer.isBuffer(g) && g.equals(sent[i]), `message ${i}`);
          });
          socket.close();
        });

        test("20 clients at once each get their own echoes in order", async () => {
          const clients = await Promise.all(Array.from({ length: 20 }, () => open(srv.url)));
          await Promise.all(
            clients.map(async (socket, c) => {
              const sent = Array.from({ length: 50 }, (_, i) => `c${c}-m${i}`);
              const echoes = collect(socket, sent.length);
              for (const m of sent) socket.send(m);
              assert.deepEqual(await echoes, sent);
            }),
          );
          assert.equal(new Set(clients.map((s) => s.id)).size, clients.length, "session ids are unique");
          for (const socket of clients) socket.close();
        });

        test("server close: messages before it arrive, then the client closes", async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          const got = [];
          socket.on("message", (m) => got.push(m));
          const closed = waitClose(socket);
          socket.send("before-1");
          socket.send("before-2");
          socket.send("close");
          const { reason, description } = await closed;
          assert.equal(reason, "transport close");
          assert.deepEqual(got, ["before-1", "before-2"]);
          if (mode.final === "polling") {
            // The pending GET carried a close packet.
            assert.equal(description.description, "transport closed by the server");
          } else {
            assert.equal(description.description, "websocket connection closed");
            const ev = wsCloseEvent({ description });
            assert.ok(ev.wasClean, `WebSocket closed without a close frame (code ${ev.code})`);
            // The reference closes with an empty close frame: the client
            // sees 1005, no status.
            assert.equal(ev.code, 1005, `close code ${ev.code}`);
          }
          assert.equal(await closeReason(srv.url, sid), "forced close");
        });

        test("upgrade events of the connection", async () => {
          const socket = await settled(srv.url);
          const want = mode.upgrades ? "upgrading:websocket,upgrade:websocket" : "none";
          assert.equal(await request(socket, "upgrades?"), want);
          socket.close();
        });

        // Over polling there is no close code to see: these two run where
        // the session ends on WebSocket.
        if (mode.final === "websocket") test("a ping from the client closes with a close frame and transport error", async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          const closed = waitClose(socket);
          socket.transport.ws.send("2"); // v4 heartbeats go server to client
          const { description } = await closed;
          const ev = wsCloseEvent({ description });
          assert.ok(ev.wasClean, `WebSocket closed without a close frame (code ${ev.code})`);
          assert.equal(ev.code, 1005, `close code ${ev.code}`);
          assert.equal(await closeReason(srv.url, sid), "transport error");
        });

        if (mode.final === "websocket") test("an invalid packet closes with a close frame and parse error", async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          const closed = waitClose(socket);
          socket.transport.ws.send("x");
          const { description } = await closed;
          const ev = wsCloseEvent({ description });
          assert.ok(ev.wasClean, `WebSocket closed without a close frame (code ${ev.code})`);
          assert.equal(ev.code, 1005, `close code ${ev.code}`);
          assert.equal(await closeReason(srv.url, sid), "parse error");
        });

        test("client close: the server records transport close", async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          socket.close();
          assert.equal(await closeReason(srv.url, sid), "transport close");
        });
      });

      describe("heartbeat (pingInterval 300 ms, pingTimeout 400 ms)", () => {
        let srv;
        before(async () => {
          srv = await startServer({ PING_INTERVAL: "300", PING_TIMEOUT: "400" });
        });
        after(async () => {
          closeAllClients();
          await srv.stop();
        });

        test("the connection stays open across 5 pings", { timeout: 10000 }, async () => {
          const socket = await open(srv.url);
          assert.equal(socket._pingInterval, 300);
          assert.equal(socket._pingTimeout, 400);
          let pings = 0;
          socket.on("ping", () => pings++);
          for (let i = 0; i < 5; i++) await waitFor(socket, "ping", 2000);
          assert.ok(pings >= 5);
          assert.equal(socket.readyState, "open");
          assert.equal(socket.transport.name, mode.final);
          assert.equal(await request(socket, "still here"), "still here");
          socket.close();
        });

        test("a client that stops answering pings is closed with ping timeout", { timeout: 10000 }, async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          stopAnsweringPings(socket);
          // The server closes within pingInterval + pingTimeout (700 ms).
          const { reason, description } = await waitClose(socket, 5000);
          assert.equal(reason, "transport close");
          if (mode.final === "polling") {
            assert.equal(description.description, "transport closed by the server");
          } else {
            assert.equal(description.description, "websocket connection closed");
            const ev = wsCloseEvent({ description });
            assert.ok(ev.wasClean, `WebSocket closed without a close frame (code ${ev.code})`);
          }
          assert.equal(await closeReason(srv.url, sid), "ping timeout");
        });
      });

      describe("payload limit (MAX_PAYLOAD 1000)", () => {
        let srv;
        before(async () => {
          srv = await startServer({ MAX_PAYLOAD: "1000" });
        });
        after(async () => {
          closeAllClients();
          await srv.stop();
        });

        test("a message whose packet is exactly the limit passes", async () => {
          const socket = await settled(srv.url);
          const msg = text(999); // "4" + 999 bytes
          assert.equal(await request(socket, msg), msg);
          socket.close();
        });

        test("messages that fit only one by one all arrive, in order", async () => {
          // Over polling the client splits its buffer into POSTs of at most
          // the handshake's maxPayload; over WebSocket each is one frame.
          const socket = await settled(srv.url);
          const sent = Array.from({ length: 12 }, (_, i) => `${i}:`.padEnd(400, "x"));
          const echoes = collect(socket, sent.length);
          for (const m of sent) socket.send(m);
          assert.deepEqual(await echoes, sent);
          socket.close();
        });

        test("a message one byte over the limit closes the connection", async () => {
          const socket = await settled(srv.url);
          const sid = socket.id;
          const closed = waitClose(socket);
          socket.send(text(1000)); // "4" + 1000 bytes
          const { reason, description } = await closed;
          let serverReason;
          if (mode.final === "polling") {
            // The POST is refused with 413; the client gives up on the
            // transport and sends a close packet.
            assert.equal(reason, "transport error");
            assert.equal(description.message, "xhr post error");
            assert.equal(description.description, 413);
            serverReason = "transport close";
          } else {
            assert.equal(reason, "transport close");
            const ev = wsCloseEvent({ description });
            assert.equal(ev.code, 1009, "WebSocket close code (message too big)");
            serverReason = "transport error";
          }
          assert.equal(await closeReason(srv.url, sid), serverReason);
        });
      });
    });
  }
});

// A polling client that closes its session sends a close packet in a POST,
// while its GET may be pending or on its way: raw v4 requests, in both
// orders.
describe(`Engine.IO v3 polling against the ${SERVER} server`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ ALLOW_EIO3: "1", PING_INTERVAL: "300", PING_TIMEOUT: "400" });
  });
  after(async () => {
    closeAllClients();
    await srv.stop();
  });

  const v3 = (s) => `${s.length}:${s}`;
  const get = async (url) => {
    const res = await fetch(url);
    return { status: res.status, type: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()) };
  };
  const post = async (url, body, type = "text/plain;charset=UTF-8") => {
    const res = await fetch(url, { method: "POST", body, headers: { "content-type": type } });
    return { status: res.status, body: await res.text() };
  };
  const handshake = async (query = "") => {
    const res = await get(`${srv.url}/engine.io/?EIO=3&transport=polling${query}`);
    assert.equal(res.status, 200);
    const body = res.body.toString("utf8");
    const m = /^(\d+):0(\{.*\})$/.exec(body);
    assert.ok(m, `v3 handshake payload: ${JSON.stringify(body)}`);
    assert.equal(Number(m[1]), m[2].length + 1);
    const data = JSON.parse(m[2]);
    return { data, url: `${srv.url}/engine.io/?EIO=3&transport=polling&sid=${data.sid}${query}`, res };
  };

  test("handshake", async () => {
    const { data, res } = await handshake();
    assert.equal(res.type, "text/plain; charset=UTF-8");
    assert.deepEqual(Object.keys(data).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepEqual(data.upgrades, ["websocket"]);
    assert.equal(data.pingInterval, 300);
    assert.equal(data.pingTimeout, 400);
  });

  test("ping, pong and a unicode text message", async () => {
    const { url } = await handshake();
    const msg = "4héllo 😀 中文";
    assert.deepEqual(await post(url, v3(msg) + v3("2")), { status: 200, body: "ok" });
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.type, "text/plain; charset=UTF-8");
    assert.equal(res.body.toString("utf8"), v3(msg) + v3("3"));
    await post(url, v3("1"));
  });

  test("base64 binary in, binary payload out", async () => {
    const { url } = await handshake();
    assert.deepEqual(await post(url, v3("b4AQID")), { status: 200, body: "ok" });
    const res = await get(url);
    assert.equal(res.type, "application/octet-stream");
    // 0x01 binary marker, length "4" as digit bytes, 0xff, then type 4 and data.
    assert.deepEqual([...res.body], [1, 4, 255, 4, 1, 2, 3]);
    await post(url, v3("1"));
  });

  test("binary payload in, with b64=1 base64 text out", async () => {
    const { url } = await handshake("&b64=1");
    const body = Buffer.from([1, 4, 255, 4, 9, 8, 7]);
    assert.deepEqual(await post(url, body, "application/octet-stream"), { status: 200, body: "ok" });
    const res = await get(url);
    assert.equal(res.type, "text/plain; charset=UTF-8");
    assert.equal(res.body.toString("utf8"), v3("b4" + Buffer.from([9, 8, 7]).toString("base64")));
    await post(url, v3("1"));
  });

  test("a close packet ends the session", async () => {
    const { url } = await handshake();
    assert.deepEqual(await post(url, v3("1")), { status: 200, body: "ok" });
    const res = await get(url);
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body.toString()), { code: 1, message: "Session ID unknown" });
  });

  test("a v3 client that does not ping is closed with ping timeout", async () => {
    const { data } = await handshake();
    // v3 heartbeats go client to server; the server waits pingInterval +
    // pingTimeout (700 ms here) for a ping.
    assert.equal(await closeReason(srv.url, data.sid, 3000), "ping timeout");
  });
});

describe(`Engine.IO v3 refused without ALLOW_EIO3 by the ${SERVER} server`, () => {
  let srv;
  before(async () => {
    srv = await startServer({});
  });
  after(() => srv.stop());

  test("handshake is refused with 400, code 5", async () => {
    const res = await fetch(`${srv.url}/engine.io/?EIO=3&transport=polling`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 5, message: "Unsupported protocol version" });
  });
});
