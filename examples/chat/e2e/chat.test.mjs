// Browser test of the chat example: builds and starts the Go server, then
// two Chromium pages (two browser contexts, like two people) chat through
// it, over WebSocket and over polling only.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const STEP = 10_000; // the wait of any one step in a page

let work;    // temp dir: the server binary and its log
let shots;   // temp dir kept for the screenshots
let server;  // the Go server process
let exited;  // resolves with its exit code
let base;    // its URL
let browser;
let pageErrors = []; // uncaught errors of the pages, checked after each test
let offsite = [];    // requests of the pages to anywhere but the server, refused

before(async () => {
  work = mkdtempSync(join(tmpdir(), "duplex-chat-e2e-"));
  shots = mkdtempSync(join(tmpdir(), "duplex-chat-screenshots-"));
  const bin = join(work, "chat");
  execFileSync("go", ["build", "-o", bin, "./examples/chat"], { cwd: root, stdio: "inherit", timeout: 180_000 });

  const logPath = join(work, "server.log");
  server = spawn(bin, ["-addr", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Should this process die without running after(), take the server along.
  process.on("exit", () => server.exitCode === null && server.kill("SIGKILL"));
  exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve(code ?? signal)));
  server.stderr.pipe(createWriteStream(logPath));
  base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start; see ${logPath}`)), 15_000);
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`the server exited (${code}); see ${logPath}`)));
  });

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}, { timeout: 300_000 });

afterEach(() => {
  const errors = pageErrors;
  const elsewhere = offsite;
  pageErrors = [];
  offsite = [];
  assert.deepEqual(errors, [], "errors in the pages");
  assert.deepEqual(elsewhere, [], "requests to anywhere but the chat's server");
});

after(async () => {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGKILL");
    await exited;
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, { timeout: 30_000 });

// open makes a new person: a browser context of their own with one page
// at path. The page may reach the chat's server only: any other request
// is refused and fails the test.
async function open(path) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  context.setDefaultTimeout(STEP);
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base + "/") || url.startsWith("blob:") || url.startsWith("data:")) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${path}: ${err.message}`));
  await page.goto(base + path);
  return { context, page };
}

async function enter(page, name) {
  await page.getByLabel("Nickname").fill(name);
  await page.getByRole("button", { name: "Join" }).click();
  await page.locator("#chat").waitFor({ state: "visible" });
}

async function say(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
  // Shown once the server's acknowledgement came back with its id.
  await page.locator("#messages li.message.mine", { hasText: text }).waitFor();
}

async function switchRoom(page, room) {
  await page.getByLabel("Room", { exact: true }).fill(room);
  await page.getByRole("button", { name: "Switch" }).click();
  await page.locator("#room-title", { hasText: `#${room}` }).waitFor();
}

async function users(page, ...names) {
  await assertText(page.locator("#users"), names.join("\n"));
}

async function assertText(locator, want) {
  const deadline = Date.now() + STEP;
  let got;
  for (;;) {
    got = (await locator.innerText()).trim();
    if (got === want) return;
    if (Date.now() > deadline) assert.fail(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function transport(page, name) {
  await page.locator(`#status[data-transport="${name}"]`).waitFor();
}

// drawPNG draws a small picture in page and returns it as PNG bytes.
async function drawPNG(page, width, height, text) {
  const url = await page.evaluate(([w, h, t]) => {
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext("2d");
    const grad = g.createLinearGradient(0, 0, w, h);
    grad.addColorStop(0, "#2563eb");
    grad.addColorStop(1, "#db2777");
    g.fillStyle = grad;
    g.fillRect(0, 0, w, h);
    g.fillStyle = "#fff";
    g.font = "bold 20px sans-serif";
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(t, w / 2, h / 2);
    return canvas.toDataURL("image/png");
  }, [width, height, text]);
  return Buffer.from(url.slice(url.indexOf(",") + 1), "base64");
}

// sendFile attaches bytes as a file from page and waits for its own copy.
async function sendFile(page, name, mimeType, buffer) {
  const before = await page.locator("#messages li.attachment.mine").count();
  await page.getByLabel(/Attach/).setInputFiles({ name, mimeType, buffer });
  await page.locator("#messages li.attachment.mine").nth(before).waitFor();
}

// receivedImage waits for the image named name on page and returns its
// size as shown and the bytes behind it, once it rendered.
async function receivedImage(page, name) {
  const img = page.locator(`#messages li.attachment:not(.mine) img[alt="${name}"]`);
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: STEP });
  return img.evaluate(async (el) => ({
    size: Number(el.closest("li").dataset.size),
    from: el.closest("li").querySelector(".from").textContent,
    width: el.naturalWidth,
    bytes: Array.from(new Uint8Array(await (await fetch(el.src)).arrayBuffer())),
  }));
}

test("the page loads socket.io-client from the chat's own server", { timeout: 30_000 }, async () => {
  const context = await browser.newContext();
  const scripts = [];
  context.on("response", (res) => {
    if (res.request().resourceType() === "script") scripts.push(res);
  });
  try {
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(base + "/")) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(`/: ${err.message}`));
    await page.goto(base + "/");
    await transport(page, "websocket");
    assert.deepEqual(scripts.map((r) => r.url()), [`${base}/socket.io/socket.io.min.js`]);
    const [res] = scripts;
    assert.equal(res.status(), 200);
    assert.equal(res.headers()["content-type"], "application/javascript; charset=utf-8");
    // The official bundle, as package socketio embeds it from npm.
    const bundle = readFileSync(join(root, "socketio/clientdist/dist/socket.io.min.js"));
    assert.ok((await res.body()).equals(bundle), "the script is not socket.io-client's socket.io.min.js");
    assert.equal(await page.evaluate(() => typeof io), "function");
  } finally {
    await context.close();
  }
});

test("two people chat over WebSocket", { timeout: 90_000 }, async () => {
  const a = await open("/");
  const b = await open("/");
  try {
    await transport(a.page, "websocket");
    await transport(b.page, "websocket");

    await enter(a.page, "ann");
    await users(a.page, "ann (you)");
    await enter(b.page, "bob");
    await users(b.page, "ann\nbob (you)");
    await users(a.page, "ann (you)\nbob");
    await a.page.locator("#messages .notice", { hasText: "bob joined" }).waitFor();

    // Typing shows on the other page.
    await a.page.getByLabel("Message", { exact: true }).pressSequentially("hel");
    await assertText(b.page.locator("#typing"), "ann is typing…");

    // A message from A appears on B; A's own copy carries the server's id.
    await say(a.page, "hello from ann");
    const got = b.page.locator("#messages li.message", { hasText: "hello from ann" });
    await got.waitFor();
    assert.equal(await got.locator(".from").innerText(), "ann");
    const idA = await a.page.locator("#messages li.message.mine").getAttribute("data-id");
    assert.equal(await got.getAttribute("data-id"), idA);
    assert.match(idA, /^\d+$/);
    await assertText(b.page.locator("#typing"), ""); // the message ends the typing

    // Rooms isolate messages: B's message to "general" does not reach A
    // in "random", though B's later one in "random" does.
    await switchRoom(a.page, "random");
    await users(a.page, "ann (you)");
    await users(b.page, "bob (you)");
    await say(b.page, "only in general");
    await say(a.page, "only in random");
    await switchRoom(b.page, "random");
    await users(b.page, "ann\nbob (you)");
    await users(a.page, "ann (you)\nbob");
    await say(b.page, "bob in random");
    await a.page.locator("#messages li.message", { hasText: "bob in random" }).waitFor();
    assert.equal(await a.page.locator("#messages li", { hasText: "only in general" }).count(), 0);
    assert.equal(await b.page.locator("#messages li", { hasText: "only in random" }).count(), 0);

    // An image attachment from A, sent as binary, renders on B byte for byte.
    const png = await drawPNG(a.page, 200, 100, "hi from ann");
    await sendFile(a.page, "hello.png", "image/png", png);
    const img = await receivedImage(b.page, "hello.png");
    assert.equal(img.from, "ann");
    assert.equal(img.size, png.length);
    assert.equal(img.width, 200);
    assert.deepEqual(Buffer.from(img.bytes), png);

    // B answers while A starts typing again: what the screenshot shows.
    await say(b.page, "nice picture!");
    await a.page.locator("#messages li.message", { hasText: "nice picture!" }).waitFor();
    await a.page.getByLabel("Message", { exact: true }).pressSequentially("thanks");
    await assertText(b.page.locator("#typing"), "ann is typing…");
    const shot = join(shots, "chat-websocket.png");
    await b.page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);

    // B leaves: A's list updates.
    await b.context.close();
    await users(a.page, "ann (you)");
    await a.page.locator("#messages .notice", { hasText: "bob left" }).waitFor();
  } finally {
    await a.context.close();
    await b.context.close().catch(() => {});
  }
});

test("two people chat over polling only", { timeout: 60_000 }, async () => {
  const a = await open("/?transport=polling");
  const b = await open("/?transport=polling");
  try {
    await transport(a.page, "polling");
    await transport(b.page, "polling");
    await enter(a.page, "carol");
    await enter(b.page, "dave");
    await users(a.page, "carol (you)\ndave");
    await users(b.page, "carol\ndave (you)");

    await say(a.page, "hello over polling");
    await b.page.locator("#messages li.message", { hasText: "hello over polling" }).waitFor();
    await say(b.page, "hi carol");
    await a.page.locator("#messages li.message", { hasText: "hi carol" }).waitFor();

    // Binary goes base64-encoded in polling payloads and comes out intact.
    const png = await drawPNG(b.page, 160, 80, "polling");
    await sendFile(b.page, "tile.png", "image/png", png);
    const img = await receivedImage(a.page, "tile.png");
    assert.equal(img.size, png.length);
    assert.deepEqual(Buffer.from(img.bytes), png);

    const shot = join(shots, "chat-polling.png");
    await a.page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);

    await transport(a.page, "polling"); // never upgraded
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("the server shuts down cleanly on SIGTERM", { timeout: 20_000 }, async () => {
  const a = await open("/");
  try {
    await enter(a.page, "erin");
    server.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
    assert.equal(code, 0);
    // The page hears about it and says so.
    await a.page.locator('#status[data-state="disconnected"]').waitFor();
  } finally {
    await a.context.close();
  }
});
