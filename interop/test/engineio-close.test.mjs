// Engine.IO interop, how sessions end: a polling client's close packet
// while its GET is pending, the header hooks, dropped upgrades and the
// close frames of a shutdown, with engine.io-client and raw requests
// against the server chosen by SERVER (see engineio.test.mjs). Every
// expectation is what the reference does.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  SERVER,
  startServer,
  connect,
  closeAllClients,
  waitClose,
  closeReason,
  tick,
  MODES,
  wsCloseEvent,
} from "./helpers.mjs";

describe(`Engine.IO v4 polling close against the ${SERVER} server`, () => {
  let srv;
  before(async () => {
    srv = await startServer({});
  });
  after(async () => {
    closeAllClients();
    await srv.stop();
  });

  const read = async (res) => ({ status: res.status, body: await res.text() });
  const get = async (url) => read(await fetch(url));
  const post = async (url, body) =>
    read(await fetch(url, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" } }));
  const open = async () => {
    const base = `${srv.url}/engine.io/?EIO=4&transport=polling`;
    const res = await get(base);
    assert.equal(res.status, 200);
    const { sid } = JSON.parse(res.body.slice(1));
    return { sid, url: `${base}&sid=${sid}` };
  };
  const unknownSID = { status: 400, body: JSON.stringify({ code: 1, message: "Session ID unknown" }) };

  test("GET first: the pending GET is answered with a noop", async () => {
    const { sid, url } = await open();
    const pending = get(url);
    // Nothing the client can observe says the GET has reached the server:
    // give it the time to.
    await tick(150);
    const [posted, polled] = await Promise.all([post(url, "1"), pending]);
    assert.deepEqual(posted, { status: 200, body: "ok" });
    assert.deepEqual(polled, { status: 200, body: "6" });
    assert.deepEqual(await get(url), unknownSID);
    assert.equal(await closeReason(srv.url, sid), "transport close");
  });

  test("both at once: the GET gets one of those two answers", async () => {
    const { sid, url } = await open();
    const [polled, posted] = await Promise.all([get(url), post(url, "1")]);
    assert.deepEqual(posted, { status: 200, body: "ok" });
    assert.ok(
      (polled.status === 200 && polled.body === "6") || (polled.status === unknownSID.status && polled.body === unknownSID.body),
      `GET answered ${polled.status} ${JSON.stringify(polled.body)}`,
    );
    assert.equal(await closeReason(srv.url, sid), "transport close");
  });

  test("POST first: the GET that follows finds no session", async () => {
    const { sid, url } = await open();
    assert.deepEqual(await post(url, "1"), { status: 200, body: "ok" });
    assert.deepEqual(await get(url), unknownSID);
    assert.equal(await closeReason(srv.url, sid), "transport close");
  });
});

// The engine's header hooks: the contract servers add the cookie
// eio_initial=1 in initial_headers and eio_headers=<method> in headers.
describe(`header hooks of the ${SERVER} server`, () => {
  let srv;
  before(async () => {
    srv = await startServer({});
  });
  after(async () => {
    closeAllClients();
    await srv.stop();
  });

  // The cookies a response sets. The Node server writes the cookies of an
  // upgrade response on one line, joined by commas; they are split here.
  const cookies = (values) => (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim());
  const base = () => `${srv.url}/engine.io/?EIO=4&transport=polling`;
  const wsBase = () => `${srv.url.replace("http", "ws")}/engine.io/?EIO=4&transport=websocket`;
  const open = async () => {
    const res = await fetch(base());
    const { sid } = JSON.parse((await res.text()).slice(1));
    return { res, sid, url: `${base()}&sid=${sid}` };
  };
  const post = (url, body) =>
    fetch(url, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" } });
  // Opens a WebSocket and resolves with it and its upgrade response.
  const dial = (url) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once("upgrade", (res) => resolve({ ws, res }));
      ws.once("error", reject);
    });

  test("polling: handshake, GET, POST; not refusals", async () => {
    const { res, url } = await open();
    assert.deepEqual(cookies(res.headers.getSetCookie()), ["eio_initial=1", "eio_headers=GET"]);
    const posted = await post(url, "4hello");
    assert.equal(await posted.text(), "ok");
    assert.deepEqual(cookies(posted.headers.getSetCookie()), ["eio_headers=POST"]);
    const polled = await fetch(url);
    assert.equal(await polled.text(), "4hello");
    assert.deepEqual(cookies(polled.headers.getSetCookie()), ["eio_headers=GET"]);
    const refused = await fetch(`${base()}&sid=unknown`);
    assert.equal(refused.status, 400);
    await refused.text();
    assert.deepEqual(cookies(refused.headers.getSetCookie()), []);
    const bad = await fetch(`${srv.url}/engine.io/?EIO=4&transport=unknown`);
    assert.equal(bad.status, 400);
    await bad.text();
    assert.deepEqual(cookies(bad.headers.getSetCookie()), []);
    await (await post(url, "1")).text();
  });

  test("WebSocket: handshake and upgrade", async () => {
    const direct = await dial(wsBase());
    assert.deepEqual(cookies(direct.res.headers["set-cookie"]), ["eio_initial=1", "eio_headers=GET"]);
    direct.ws.close();

    const { url, sid } = await open();
    const up = await dial(`${wsBase()}&sid=${sid}`);
    assert.deepEqual(cookies(up.res.headers["set-cookie"]), ["eio_headers=GET"]);
    up.ws.close();
    await (await post(url, "1")).text();
  });
});

// WebSockets whose upgrade the server drops, opened with the ws library
// for a polling session of raw requests: the close code they see.
describe(`dropped upgrades against the ${SERVER} server`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ UPGRADE_TIMEOUT: "300", MAX_PAYLOAD: "1000" });
  });
  after(async () => {
    closeAllClients();
    await srv.stop();
  });

  const open = async () => {
    const base = `${srv.url}/engine.io/?EIO=4&transport=polling`;
    const res = await fetch(base);
    const { sid } = JSON.parse((await res.text()).slice(1));
    return { sid, url: `${base}&sid=${sid}` };
  };
  const post = async (url, body) =>
    (await fetch(url, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8" } })).text();
  // Opens a WebSocket for sid; its messages and its close are recorded.
  const dial = (sid) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${srv.url.replace("http", "ws")}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
      const messages = [];
      const waiting = [];
      ws.on("message", (data) => {
        messages.push(data.toString());
        waiting.splice(0).forEach((fn) => fn());
      });
      ws.closed = new Promise((res) => ws.once("close", (code) => res(code)));
      ws.next = (timeout = 5000) =>
        new Promise((res, rej) => {
          const take = () => (messages.length ? res(messages.shift()) : waiting.push(take));
          setTimeout(() => rej(new Error(`no message within ${timeout} ms`)), timeout);
          take();
        });
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    });
  const probe = async (ws) => {
    ws.send("2probe");
    assert.equal(await ws.next(), "3probe");
  };
  const closeCode = (ws, timeout = 5000) =>
    Promise.race([ws.closed, tick(timeout).then(() => "still open")]);

  const cases = [
    ["an upgrade under way", async (sid) => {
      const first = await dial(sid);
      await probe(first);
      const second = await dial(sid);
      return { ws: second, after: () => first.close() };
    }],
    ["the session upgraded already", async (sid) => {
      const first = await dial(sid);
      await probe(first);
      first.send("5");
      const second = await dial(sid);
      return { ws: second, after: () => first.close() };
    }],
    ["a message in place of the upgrade", async (sid) => {
      const ws = await dial(sid);
      await probe(ws);
      ws.send("4hello");
      return { ws };
    }],
    ["an invalid packet", async (sid) => {
      const ws = await dial(sid);
      ws.send("x");
      return { ws };
    }],
    ["the upgrade timing out", async (sid) => {
      const ws = await dial(sid);
      await probe(ws);
      return { ws };
    }],
    ["the session closing", async (sid, url) => {
      const ws = await dial(sid);
      await probe(ws);
      assert.equal(await post(url, "1"), "ok");
      return { ws };
    }],
  ];
  for (const [name, act] of cases) {
    test(`${name}: a close frame without status (1005)`, async () => {
      const { sid, url } = await open();
      const { ws, after } = await act(sid, url);
      assert.equal(await closeCode(ws), 1005);
      after?.();
      await post(url, "1");
    });
  }

  test("a message too large during the probe: 1009", async () => {
    const { sid, url } = await open();
    const ws = await dial(sid);
    ws.send("4" + "a".repeat(1000));
    assert.equal(await closeCode(ws), 1009);
    await post(url, "1");
  });
});

// The server's shutdown (SIGTERM: the Node server's close(), the Go
// server's Shutdown) as a WebSocket client sees it. (A polling client's
// outcome depends on whether its GET is pending at that moment; see the
// README's differences.)
describe(`shutdown of the ${SERVER} server`, () => {
  after(() => closeAllClients());
  for (const mode of MODES.filter((m) => m.final === "websocket")) {
    test(`${mode.name} mode: a close frame, and transport close`, async () => {
      const srv = await startServer({});
      try {
        const socket = await connect(srv.url, mode.opts, { waitUpgrade: !!mode.upgrades });
        const closed = waitClose(socket);
        await srv.stop();
        const { reason, description } = await closed;
        assert.equal(reason, "transport close");
        const ev = wsCloseEvent({ description });
        assert.ok(ev.wasClean, `WebSocket closed without a close frame (code ${ev.code})`);
        assert.equal(ev.code, 1005, `close code ${ev.code}`);
      } finally {
        await srv.stop();
      }
    });
  }
});

// Engine.IO v3 over raw HTTP long-polling: engine.io-client 6 speaks only
// v4, so these requests are written by hand in the v3 payload format
// (<length>:<packet>, length in UTF-16 code units).
