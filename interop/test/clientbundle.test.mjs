// The browser client served beside the Socket.IO endpoint (the reference's
// serveClient option, on by default): the same requests against the server
// chosen by SERVER (go = interop/sioserver, node = the socket.io
// reference), the same answers: status, headers, ETag and 304, gzip and
// deflate, and bodies equal to the files of the installed socket.io-client
// package. The one difference, Brotli, which the Go server does not send,
// is asserted per server where it shows.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { SERVER, startSocketIOServer } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const interopDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const clientDir = path.join(interopDir, "node_modules", "socket.io-client");
const VERSION = JSON.parse(readFileSync(path.join(clientDir, "package.json"), "utf8")).version;
// The reference's content negotiation (accepts → negotiator), to say what
// each Accept-Encoding should get.
const Negotiator = require("negotiator");

// The files the reference serves at /socket.io/<name>.
const NAMES = [
  "socket.io.esm.min.js",
  "socket.io.esm.min.js.map",
  "socket.io.js",
  "socket.io.js.map",
  "socket.io.min.js",
  "socket.io.min.js.map",
  "socket.io.msgpack.min.js",
  "socket.io.msgpack.min.js.map",
];
const file = (name) => readFileSync(path.join(clientDir, "dist", name));

// The encodings each server may send: the reference offers br first; the
// Go server has no Brotli encoder and offers the others.
const OFFERED = SERVER === "go" ? ["gzip", "deflate"] : ["br", "gzip", "deflate"];

// The encoding an Accept-Encoding header should get, "" for none.
const expectedEncoding = (header) =>
  new Negotiator({ headers: header === undefined ? {} : { "accept-encoding": header } }).encodings(OFFERED)[0] ?? "";

// get sends one request with node:http (no automatic decompression) and
// resolves with { status, headers, body } (body a Buffer, as sent).
function get(port, urlPath, { method = "GET", headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: urlPath, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

// decode undoes the response's Content-Encoding.
function decode({ headers, body }) {
  switch (headers["content-encoding"]) {
    case undefined:
      return body;
    case "gzip":
      return zlib.gunzipSync(body);
    case "deflate":
      return zlib.inflateSync(body);
    case "br":
      return zlib.brotliDecompressSync(body);
  }
  throw new Error(`unexpected content-encoding ${headers["content-encoding"]}`);
}

// The headers both servers send with a file, as the reference sends them.
function assertFileHeaders(res, name, encoding = "") {
  assert.equal(res.status, 200, name);
  const type = name.endsWith(".map") ? "application/json" : "application/javascript";
  assert.equal(res.headers["content-type"], `${type}; charset=utf-8`, name);
  assert.equal(res.headers["cache-control"], "public, max-age=0", name);
  assert.equal(res.headers["etag"], `"${VERSION}"`, name);
  assert.equal(res.headers["content-encoding"] ?? "", encoding, name);
  assert.equal(res.headers["vary"], undefined, `${name}: the reference sends no Vary`);
}

describe(`client bundle (${SERVER} server)`, () => {
  let server;
  before(async () => {
    server = await startSocketIOServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("the installed client is the release both servers serve", () => {
    // The reference's ETag is its own version; the Go server's is the
    // bundle's release. Both are this one.
    const reference = JSON.parse(readFileSync(path.join(interopDir, "node_modules", "socket.io", "package.json"), "utf8"));
    assert.equal(reference.version, VERSION);
  });

  test("each file and its map, uncompressed, equal to the npm package's", async () => {
    for (const name of NAMES) {
      const res = await get(server.port, `/socket.io/${name}`);
      assertFileHeaders(res, name);
      assert.ok(res.body.equals(file(name)), `${name}: body differs from the npm file`);
    }
  });

  test("a query string, POST and HEAD get the file too", async () => {
    const want = file("socket.io.min.js");
    let res = await get(server.port, "/socket.io/socket.io.min.js?v=1&t=x");
    assertFileHeaders(res, "socket.io.min.js");
    assert.ok(res.body.equals(want));
    res = await get(server.port, "/socket.io/socket.io.min.js", { method: "POST" });
    assertFileHeaders(res, "socket.io.min.js");
    assert.ok(res.body.equals(want));
    res = await get(server.port, "/socket.io/socket.io.min.js", { method: "HEAD" });
    assertFileHeaders(res, "socket.io.min.js");
    assert.equal(res.body.length, 0);
  });

  test("gzip and deflate bodies decode to the npm files", async () => {
    for (const name of NAMES) {
      for (const encoding of ["gzip", "deflate"]) {
        const res = await get(server.port, `/socket.io/${name}`, { headers: { "accept-encoding": encoding } });
        assertFileHeaders(res, name, encoding);
        assert.ok(!res.body.equals(file(name)), `${name}: ${encoding} body is not compressed`);
        assert.ok(decode(res).equals(file(name)), `${name}: ${encoding} body decodes to something else`);
      }
    }
  });

  test("Accept-Encoding is negotiated as the reference does", async () => {
    const headers = [
      undefined,
      "",
      "gzip, deflate, br, zstd", // Chromium, Firefox
      "deflate, gzip, br, zstd", // curl --compressed
      "GZIP",
      "gzip;q=0.5, deflate",
      "gzip;q=0.5, deflate;q=0.5",
      "deflate;q=0.5, gzip;q=0.5",
      "*;q=0, deflate",
      "gzip;q=0, deflate;q=0",
      "gzip;q=abc",
      "gzip ;q=0.8, deflate; q=0.9",
      "gzip;level=1;q=0.2, deflate;q=0.1",
      "identity",
      "identity, deflate",
      "x-gzip, compress",
      // The reference picks br for these; the Go server the best of the
      // others.
      "*",
      "br",
      "br, deflate",
      "gzip;q=0, *",
      "br;q=1, gzip;q=0.9",
    ];
    const want = file("socket.io.min.js");
    for (const header of headers) {
      const res = await get(server.port, "/socket.io/socket.io.min.js", {
        headers: header === undefined ? {} : { "accept-encoding": header },
      });
      const encoding = expectedEncoding(header);
      assertFileHeaders(res, `socket.io.min.js, Accept-Encoding ${JSON.stringify(header)}`, encoding);
      assert.ok(decode(res).equals(want), `Accept-Encoding ${JSON.stringify(header)}: body decodes to something else`);
    }
    // Where the two servers differ, said plainly.
    assert.equal(expectedEncoding("br"), SERVER === "go" ? "" : "br");
    assert.equal(expectedEncoding("gzip, deflate, br, zstd"), "gzip");
  });

  test("304 Not Modified for the ETag, strong or weak, and the file otherwise", async () => {
    for (const name of ["socket.io.js", "socket.io.min.js.map"]) {
      for (const tag of [`"${VERSION}"`, `W/"${VERSION}"`]) {
        const res = await get(server.port, `/socket.io/${name}`, {
          headers: { "if-none-match": tag, "accept-encoding": "gzip" },
        });
        assert.equal(res.status, 304, `${name}, If-None-Match ${tag}`);
        assert.equal(res.body.length, 0);
        for (const h of ["etag", "cache-control", "content-type", "content-encoding", "vary"]) {
          assert.equal(res.headers[h], undefined, `${name}, If-None-Match ${tag}: ${h}`);
        }
      }
    }
    // The reference compares the whole header with the ETag: a list, a
    // wildcard, another version or an unquoted one get the file.
    for (const tag of [`"0.0.0"`, VERSION, `"${VERSION}", "0.0.0"`, "*", `w/"${VERSION}"`]) {
      const res = await get(server.port, "/socket.io/socket.io.js", { headers: { "if-none-match": tag } });
      assertFileHeaders(res, `socket.io.js, If-None-Match ${tag}`);
      assert.ok(res.body.equals(file("socket.io.js")));
    }
  });

  test("names the reference does not serve fall through to the engine", async () => {
    for (const urlPath of [
      "/socket.io/socket.io.slim.js",
      "/socket.io/socket.io.min.js.gz",
      "/socket.io/LICENSE",
      "/socket.io/package.json",
      "/socket.io/dist/socket.io.js",
      "/socket.io/x/socket.io.js",
      "/socket.io/socket%2Eio.js",
      "/socket.io/SOCKET.IO.JS",
    ]) {
      const res = await get(server.port, urlPath);
      assert.equal(res.status, 400, urlPath);
      assert.deepEqual(JSON.parse(res.body.toString()), { code: 0, message: "Transport unknown" }, urlPath);
      assert.equal(res.headers["etag"], undefined, urlPath);
    }
  });
});
