// Browser test of the admin package: builds and starts the Go test server
// (e2e/server), connects socket.io-client clients that join rooms, then
// logs in to the official Admin UI (from the @socket.io/admin-ui package,
// served by the Go server) in headless Chromium, checks that it shows the
// sockets, rooms and namespaces, and disconnects a client from it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const here = dirname(fileURLToPath(import.meta.url));
const moduleDir = resolve(here, ".."); // the admin Go module
const uiDir = join(here, "node_modules/@socket.io/admin-ui/ui/dist");
const mdiDir = join(here, "node_modules/@mdi/font");
const shotsDir = join(here, "screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const STEP = 15_000; // the wait of any one step
const USERNAME = "admin";
const PASSWORD = randomBytes(12).toString("base64url");

let work;   // temp dir: the server binary and its log
let server; // the Go server process
let exited; // resolves with its exit code
let base;   // its URL
let browser;
const clients = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), "duplex-admin-e2e-"));
  const bin = join(work, "server");
  execFileSync("go", ["build", "-o", bin, "./e2e/server"], { cwd: moduleDir, stdio: "inherit", timeout: 180_000 });

  const logPath = join(work, "server.log");
  server = spawn(bin, ["-addr", "127.0.0.1:0", "-ui-dir", uiDir, "-username", USERNAME, "-password", PASSWORD], {
    stdio: ["ignore", "pipe", "pipe"],
  });
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

after(async () => {
  for (const c of clients) c.disconnect();
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGTERM");
    await exited;
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, { timeout: 30_000 });

// client connects a socket.io-client to nsp, makes it join room, and
// records how it ends.
async function client(nsp, room) {
  const socket = io(base + nsp, { reconnection: false });
  clients.push(socket);
  socket.disconnected$ = new Promise((resolve) => socket.on("disconnect", resolve));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  assert.equal(await socket.timeout(STEP).emitWithAck("join", room), room);
  return socket;
}

// within waits for promise, failing after STEP.
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${STEP} ms`)), STEP);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The UI's page links a font and an icon font from CDNs, which this
// machine cannot reach: the icons come from the @mdi/font package, the
// text font falls back to the system's.
async function offline(context) {
  const types = { ".css": "text/css", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject" };
  await context.route(/^https:\/\/cdn\.jsdelivr\.net\/npm\/@mdi\/font@[^/]+\//, (route) => {
    const path = new URL(route.request().url()).pathname.replace(/^\/npm\/@mdi\/font@[^/]+\//, "");
    try {
      const body = readFileSync(join(mdiDir, path));
      return route.fulfill({ status: 200, body, contentType: types[extname(path)] ?? "application/octet-stream" });
    } catch {
      return route.fulfill({ status: 404 });
    }
  });
  await context.route(/^https:\/\/fonts\.(googleapis|gstatic)\.com\//, (route) => route.fulfill({ status: 200, body: "", contentType: "text/css" }));
}

// row is the row holding text of the page's data table (the socket and
// room lists have a header; the detail tables have none), on the page
// shown, not on the one leaving.
function row(page, text) {
  return page.locator("table:has(thead) > tbody > tr", { hasText: text }).filter({ visible: true });
}

// nav opens a page from the navigation drawer.
async function nav(page, name) {
  await page.getByRole("navigation").getByRole("link", { name }).click();
}

async function selectNamespace(page, name) {
  // The page that is leaving stays in the document for its transition.
  const select = page.locator(".v-main .v-select", { hasText: "Select namespace" }).filter({ visible: true });
  await select.locator(".v-select__slot").click();
  await page.locator(".menuable__content__active .v-list-item", { hasText: new RegExp(`^${name}$`) }).click();
  await select.locator(".v-select__selection", { hasText: new RegExp(`^${name}$`) }).waitFor();
}

test("the Admin UI shows the sockets, rooms and namespaces, and disconnects a socket", { timeout: 120_000 }, async () => {
  const a = await client("/", "room-a");
  const c = await client("/chat", "lobby");
  const aId = a.id; // the client forgets it once disconnected

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(STEP);
  await offline(context);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(base + "/admin-ui/");

  // A wrong password is refused with the UI's own message.
  const dialog = page.locator(".v-dialog");
  await dialog.getByLabel("Server URL").fill(base);
  await dialog.getByLabel("Username").fill(USERNAME);
  await dialog.getByLabel("Password").fill("wrong");
  await dialog.getByRole("button", { name: "Connect" }).click();
  await dialog.getByText("Invalid credentials").waitFor();

  await dialog.getByLabel("Password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Connect" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.match(await page.evaluate(() => localStorage.getItem("session_id")), /^[0-9a-f]{32}$/);

  // The dashboard: the namespaces with their sockets, from server_stats.
  for (const [name, count] of [["/", "1"], ["/admin", "1"], ["/chat", "1"]]) {
    await page.locator("tr", { has: page.locator("code", { hasText: new RegExp(`^${name.replace("/", "\\/")}$`) }) })
      .locator("td", { hasText: new RegExp(`^${count}$`) }).waitFor();
  }

  const dashboardShot = join(shotsDir, "dashboard.png");
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: dashboardShot, fullPage: true });

  // The servers page: this server, by its ServerID.
  await nav(page, "Servers");
  await row(page, "duplex-e2e").waitFor();

  // A socket that connects now shows up live, and moves from polling to
  // WebSocket.
  const b = await client("/", "room-b");
  const bId = b.id;
  await nav(page, "Sockets");
  await row(page, a.id).waitFor();
  await row(page, bId).locator(".v-chip", { hasText: "WebSocket" }).waitFor();
  assert.equal(await row(page, a.id).locator("td").nth(1).innerText(), "127.0.0.1");
  const socketsShot = join(shotsDir, "sockets.png");
  await page.screenshot({ path: socketsShot, fullPage: true });

  await selectNamespace(page, "/chat");
  await row(page, c.id).waitFor();
  assert.equal(await row(page, a.id).count(), 0);

  // The socket's own page: its rooms.
  await row(page, c.id).click();
  await page.getByText("lobby").first().waitFor();

  await nav(page, "Rooms");
  await selectNamespace(page, "/");
  await row(page, "room-a").waitFor();
  await row(page, "room-b").waitFor();
  const roomsShot = join(shotsDir, "rooms.png");
  await page.screenshot({ path: roomsShot, fullPage: true });

  // Disconnect A from the sockets page: the client is told the server
  // disconnected it, and the row goes.
  await nav(page, "Sockets");
  await row(page, aId).getByRole("button").click();
  assert.equal(await within(a.disconnected$, "the client's disconnection"), "io server disconnect");
  await nav(page, "Sockets"); // the click also opened the socket's page
  await row(page, aId).waitFor({ state: "detached" });
  await row(page, bId).waitFor();
  assert.ok(b.connected && c.connected, "the other clients stay connected");

  // Reloaded, the page logs in again with its session id, without the
  // password, and lists the sockets left.
  await page.reload();
  await row(page, bId).waitFor();
  assert.equal(await row(page, aId).count(), 0);
  assert.equal(await page.locator(".v-dialog").isVisible(), false);

  await context.close();
  assert.deepEqual(pageErrors, [], "errors in the page");
  console.log(`screenshots: ${dashboardShot} ${socketsShot} ${roomsShot}`);
});
