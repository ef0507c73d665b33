// The release build (scripts/build-extension.sh without --dev) in headless Chromium, with the
// real native host behind a recorder of what the browser sends it. Issue 11: no built-in
// loopback origin (a page on a loopback port nobody allow-listed gets the silence of a browser
// without Kagi: EXTENSION_NOT_INSTALLED, and the host sees no request), the options page says
// it is the release build, the customer's allowlist cannot be written from a content script,
// and the customer's own origin added on the options page is served.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  ROOT, EXTENSION_ID, RELEASE_EXTENSION_DIR, HOST_BIN, startRig, inContentScript, launchBrowser, recordingHost, serve,
  sleep, stopAll, takeSystemLock, tempDir, waitFor,
} from "./rig.mjs";

const SHOTS = path.join(ROOT, "build/screenshots");
let tmp, ctx, server, otherServer, origin, otherOrigin, hostInput;

before(async () => {
  for (const f of [path.join(RELEASE_EXTENSION_DIR, "manifest.json"), HOST_BIN]) {
    assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host`);
  }
  tmp = tempDir();
  await takeSystemLock();
  await startRig();
  server = await serve("127.0.0.1", 0);
  otherServer = await serve("127.0.0.1", 0);
  origin = `http://127.0.0.1:${server.address().port}`;
  otherOrigin = `http://127.0.0.1:${otherServer.address().port}`;
  hostInput = path.join(tmp, "host-input.bin");
  ctx = await launchBrowser(tmp, { extensionDir: RELEASE_EXTENSION_DIR, hostPath: recordingHost(tmp, hostInput) });
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  server?.close();
  otherServer?.close();
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openPage(o) {
  const p = await ctx.newPage();
  await p.goto(`${o}/`);
  await p.waitForFunction(() => window.kagiTest && window.kagiTest.ready);
  return p;
}

/** What the browser has sent the host so far (length-prefixed JSON, read as text). */
const sentToHost = () => (fs.existsSync(hostInput) ? fs.readFileSync(hostInput, "latin1") : "");

/** Sends hello, subscribe and a status request by hand; returns every extension message the page saw. */
async function rawExchange(page) {
  return page.evaluate(async () => {
    const seen = [];
    const listen = (ev) => ev.data?.channel === "kagi:ext" && seen.push(ev.data);
    window.addEventListener("message", listen);
    const post = (m) => window.postMessage({ ...m, channel: "kagi:page" }, location.origin);
    post({ type: "hello", nonce: "n1" });
    post({ type: "subscribe" });
    post({ type: "request", id: "r1", cmd: "status", args: {} });
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 250));
      post({ type: "hello", nonce: "n1" });
    }
    window.removeEventListener("message", listen);
    return seen;
  });
}

async function optionsPage() {
  const o = await ctx.newPage();
  await o.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await o.waitForSelector("#build");
  return o;
}

test("the options page says it is the release build, with no built-in origin", async () => {
  const o = await optionsPage();
  const note = await o.textContent("#build");
  assert.match(note, /製品版/);
  assert.doesNotMatch(note, /localhost|127\.0\.0\.1/);
  assert.equal(await o.locator("#origins li").count(), 0);
  fs.mkdirSync(SHOTS, { recursive: true });
  await o.screenshot({ path: path.join(SHOTS, "options-release.png") });
  await o.close();
});

test("a loopback page nobody allow-listed gets silence, and the host sees no request", async () => {
  const p = await openPage(origin);
  assert.deepEqual(await rawExchange(p), [], "no answer to hello, subscribe or status");
  const r = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
  assert.equal(r.error?.code, "EXTENSION_NOT_INSTALLED", JSON.stringify(r));
  assert.equal(sentToHost().includes('"cmd"'), false, `the host got a request: ${sentToHost()}`);
  await p.close();
});

test("a content script cannot change the customer's allowlist", async () => {
  const p = await openPage(origin);
  const r = await inContentScript(ctx, p, `(async () => {
    const r = { id: chrome.runtime?.id };
    try { await chrome.storage.local.set({ userOrigins: [location.origin] }); r.set = "written"; }
    catch (e) { r.set = String(e && e.message || e); }
    return r;
  })()`);
  assert.equal(r.id, EXTENSION_ID, "ran in Kagi's content script");
  assert.notEqual(r.set, "written", "the content script could write storage.local");
  assert.match(r.set, /not allowed/, "refused by the browser (storage.local access level TRUSTED_CONTEXTS)");
  const o = await optionsPage();
  assert.deepEqual(await o.evaluate(() => chrome.storage.local.get("userOrigins")), {});
  assert.equal(await o.locator("#origins li").count(), 0);
  await o.close();
  await sleep(1100);   // past the content script's retry interval
  const again = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
  assert.equal(again.error?.code, "EXTENSION_NOT_INSTALLED", JSON.stringify(again));
  await p.close();
});

test("the customer's origin added on the options page is served; another loopback port stays silent", async () => {
  const p = await openPage(origin);
  const o = await optionsPage();
  await o.fill("#new-origin", `${origin}/`);
  await o.click("button.add");
  await o.waitForFunction((x) => [...document.querySelectorAll("#origins li")].some((li) => li.textContent.startsWith(x)), origin);
  await o.close();
  // The page opened before the change starts working without a reload.
  const r = await waitFor("status from the host", async () => {
    const x = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
    return x.ok ? x : null;
  });
  assert.ok(["ok", "PCSC_UNAVAILABLE"].includes(r.ok.host), JSON.stringify(r));
  assert.ok(sentToHost().includes('"cmd":"status"'), "the recorder saw the page's status");
  const other = await openPage(otherOrigin);
  assert.deepEqual(await rawExchange(other), []);
  await p.close();
  await other.close();
});
