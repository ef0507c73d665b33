// Headless Chromium + the unpacked extension + the real native host + the virtual token.
// Checks: status and insert/remove events reach the allowed page only; requests from another
// origin are refused; the PIN window is an extension page and the page never sees the PIN;
// wrong PIN shows tries left; acquisition and login end to end; the popup; a missing host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import {
  ROOT, EXTENSION_ID, EXTENSION_DIR, HOST_BIN, VTOKEN_BIN, VToken, ensurePcscd, launchBrowser, makeCa, serve,
  sleep, stopAll, takeRigLock, tempDir, waitFor,
} from "./rig.mjs";

const PIN = "123456";
const SHOTS = path.join(ROOT, "build/screenshots");
let tmp, token, ctx, allowedServer, otherServer, allowed, other, allowedOrigin, otherOrigin;

before(async () => {
  for (const f of [path.join(EXTENSION_DIR, "manifest.json"), HOST_BIN, VTOKEN_BIN]) {
    assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host -p kagi-vtoken`);
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = tempDir();
  await takeRigLock();
  await ensurePcscd();
  token = new VToken(path.join(tmp, "token.json"));
  await token.start();
  makeCa(tmp);
  allowedServer = await serve("127.0.0.1", 0, tmp);
  const port = allowedServer.address().port;
  // Same port, another loopback address: a different origin that is not on the allowlist.
  otherServer = await serve("127.0.0.2", port, tmp);
  allowedOrigin = `http://127.0.0.1:${port}`;
  otherOrigin = `http://127.0.0.2:${port}`;
  ctx = await launchBrowser(tmp);
  allowed = await openBankPage(allowedOrigin);
  other = await openBankPage(otherOrigin);
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  allowedServer?.close();
  otherServer?.close();
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openBankPage(origin) {
  const p = await ctx.newPage();
  await p.goto(`${origin}/`);
  await p.waitForFunction(() => window.kagiTest && window.kagiTest.ready);
  return p;
}

/** Runs `kagi => ...` in a page; resolves {ok} or {error:{code,...}}. */
function run(page, body, arg) {
  return page.evaluate(([body, arg]) => window.kagiTest.run((kagi) => new Function("kagi", "arg", "t", body)(kagi, arg, window.kagiTest)), [body, arg]);
}

function nonce() {
  return crypto.randomBytes(32).toString("base64url");
}

async function nextPinWindow(action) {
  const [win] = await Promise.all([ctx.waitForEvent("page", { predicate: (p) => p.url().includes("/pin.html") }), action()]);
  await win.waitForLoadState();
  return win;
}

test("the allowed page sees the host and the token", async () => {
  const r = await run(allowed, "return kagi.status()");
  assert.equal(r.ok?.host, "ok", JSON.stringify(r));
  assert.deepEqual(r.ok.readers.find((x) => x.name === "Virtual PCD 00 00"), { name: "Virtual PCD 00 00", tokenPresent: true });
  assert.equal(r.ok.token.reader, "Virtual PCD 00 00");
  assert.equal(r.ok.token.pinRetries, 3);
});

test("another origin is refused and never reaches the host", async () => {
  const st = await run(other, "return kagi.status()");
  assert.equal(st.error?.code, "ORIGIN_NOT_ALLOWED", JSON.stringify(st));
  assert.equal(st.error.isKagiError, true);
  const auth = await run(other, "return kagi.authenticate(arg)", nonce());
  assert.equal(auth.error?.code, "ORIGIN_NOT_ALLOWED");
  const acq = await run(other, "return kagi.acquireCertificate({submitCsr: t.submitCsr})");
  assert.equal(acq.error?.code, "ORIGIN_NOT_ALLOWED");
  assert.equal(ctx.pages().filter((p) => p.url().includes("/pin.html")).length, 0, "no PIN window for another origin");
});

test("a page without the extension's content script gets EXTENSION_NOT_INSTALLED", async () => {
  const p = await ctx.newPage();
  await p.goto(`${allowedOrigin}/`);
  // An about:blank-like document where no content script runs: evaluate the library in a data: iframe-less way.
  const r = await p.evaluate(async () => {
    const { Kagi } = await import("/static/kagi.js");
    // Simulate the absence by stopping the content script's answers from reaching us.
    const orig = window.addEventListener;
    window.addEventListener = function (type, fn, o) {
      return orig.call(this, type, type === "message" ? (ev) => ev.data?.channel === "kagi:ext" ? undefined : fn(ev) : fn, o);
    };
    try { await Kagi.connect({ timeoutMs: 500 }); return "connected"; } catch (e) { return e.code; } finally { window.addEventListener = orig; }
  });
  assert.equal(r, "EXTENSION_NOT_INSTALLED");
  await p.close();
});

test("insert and remove events reach the allowed page only", async () => {
  await run(allowed, "return true");
  await run(other, "return true");
  const count = (p) => p.evaluate(() => window.kagiTest.seen.events.length);
  const before = { a: await count(allowed), o: await count(other) };
  await token.stop();
  await waitFor("removed event", async () => (await allowed.evaluate(() => window.kagiTest.seen.events)).slice(before.a).some((e) => e.type === "removed"));
  await token.start();
  const ev = await waitFor("inserted event", async () =>
    (await allowed.evaluate(() => window.kagiTest.seen.events)).slice(before.a).find((e) => e.type === "inserted"));
  assert.equal(ev.reader, "Virtual PCD 00 00");
  // The host may send token:null when it could not read the card right at insertion; status()
  // then reads it.
  if (ev.token !== null) assert.equal(ev.token.reader, "Virtual PCD 00 00");
  await waitFor("token readable after insertion", async () => (await run(allowed, "return kagi.status()")).ok?.token?.reader === "Virtual PCD 00 00");
  await sleep(500);
  assert.equal(await count(other), before.o, "the other origin got no events");
  const leaked = await other.evaluate(() => window.kagiTest.seen.messages.filter((m) => m.includes("inserted") || m.includes("removed")));
  assert.deepEqual(leaked, []);
});

test("acquisition: confirm, wrong PIN shows tries left, PIN, CSR to the bank's CA, stored; the page never sees the PIN", async () => {
  const steps = [];
  await allowed.exposeFunction("kagiStep", (s) => steps.push(s));
  const pending = run(allowed, "return kagi.acquireCertificate({algorithm: 'P-256', submitCsr: t.submitCsr, onProgress: (p) => window.kagiStep(p.step)})");
  const win = await nextPinWindow(async () => {});
  assert.ok(win.url().startsWith(`chrome-extension://${EXTENSION_ID}/pin.html`), win.url());
  await win.waitForSelector("#confirm");
  assert.equal(await win.textContent("#origin"), allowedOrigin);
  assert.equal(await win.textContent("#purpose"), "電子証明書の保存");
  await win.screenshot({ path: path.join(SHOTS, "pin-confirm.png") });
  await win.click("#confirm");
  await win.waitForSelector("#pin");
  assert.equal(await win.getAttribute("#pin", "type"), "password");
  await win.fill("#pin", "000000");
  await win.click("#ok");
  await win.waitForSelector("#error");
  assert.match(await win.textContent("#error"), /あと2回/);
  assert.match(await win.textContent("#retries"), /2/);
  await win.screenshot({ path: path.join(SHOTS, "pin-wrong.png") });
  await win.fill("#pin", PIN);
  await win.click("#ok");
  await win.waitForSelector("#working, #done", { timeout: 60000 });
  await win.screenshot({ path: path.join(SHOTS, "pin-progress.png") });
  const r = await pending;
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ok.certificate.serial, "6d89a42202c56aafed5e6c8de3277d8c");
  assert.equal(r.ok.certificate.issuer.commonName, "Kagi Test CA");
  await win.waitForSelector("#done");
  await win.screenshot({ path: path.join(SHOTS, "pin-done.png") });
  // The wrong PIN goes back from key generation to the PIN step.
  assert.deepEqual(steps.filter((s, i) => s !== steps[i - 1]), ["confirm", "pin", "generate", "pin", "generate", "issue", "store"]);
  // The bank page saw every message between it and the extension: none carries the PIN, and
  // the page has no PIN field of its own.
  const seen = await allowed.evaluate(() => window.kagiTest.seen.messages);
  assert.ok(seen.length > 0);
  assert.ok(!seen.some((m) => m.includes(PIN) || m.includes("000000")), "PIN leaked to the page");
  assert.equal(await allowed.locator("input").count(), 0);
  // The page cannot reach into the extension's window.
  const reach = await allowed.evaluate(async (id) => {
    try { const r = await fetch(`chrome-extension://${id}/pin.html`); return `fetched ${r.status}`; } catch { return "blocked"; }
  }, EXTENSION_ID);
  assert.equal(reach, "blocked");
  await win.click("#close");
});

test("login: PIN window for ログオン, kagi-auth:1 token", async () => {
  const n = nonce();
  const pending = run(allowed, "return kagi.authenticate(arg)", n);
  const win = await nextPinWindow(async () => {});
  await win.waitForSelector("#pin");
  assert.equal(await win.textContent("#purpose"), "ログオン");
  await win.screenshot({ path: path.join(SHOTS, "pin-login.png") });
  await win.fill("#pin", PIN);
  // Enter submits; the window then closes itself, possibly before press() has returned.
  await win.press("#pin", "Enter").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  const r = await pending;
  assert.equal(r.ok?.format, "kagi-auth:1", JSON.stringify(r));
  assert.equal(r.ok.algorithm, "ES256");
  const seen = await allowed.evaluate(() => window.kagiTest.seen.messages);
  assert.ok(!seen.some((m) => m.includes(PIN)));
});

test("closing the PIN window cancels", async () => {
  const pending = run(allowed, "return kagi.authenticate(arg)", nonce());
  const win = await nextPinWindow(async () => {});
  await win.waitForSelector("#cancel");
  await win.click("#cancel");
  const r = await pending;
  assert.equal(r.error?.code, "CANCELLED");
});

test("popup shows token and certificate details", async () => {
  const p = await ctx.newPage();
  await p.goto(`chrome-extension://${EXTENSION_ID}/popup.html`);
  await p.waitForSelector("dl.fields");
  const text = await p.textContent("body");
  assert.match(text, /専用USBが接続されています/);
  assert.match(text, /6d89a42202c56aafed5e6c8de3277d8c/);
  // The test CA's certificate is valid for 365 days: no renewal warning yet.
  assert.match(text, /有効期限まであと\d+日/);
  await p.screenshot({ path: path.join(SHOTS, "popup.png") });
  const o = await ctx.newPage();
  await o.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await o.waitForSelector("#language");
  await o.screenshot({ path: path.join(SHOTS, "options.png") });
  await o.close();
  await p.close();
});

test("without the native host: HOST_NOT_INSTALLED, not a hang", async () => {
  const ctx2 = await launchBrowser(tmp, { withHost: false });
  try {
    const p = await ctx2.newPage();
    await p.goto(`${allowedOrigin}/`);
    await p.waitForFunction(() => window.kagiTest && window.kagiTest.ready);
    const st = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
    assert.equal(st.ok?.host, "HOST_NOT_INSTALLED", JSON.stringify(st));
    const auth = await p.evaluate((n) => window.kagiTest.run((k) => k.authenticate(n)), nonce());
    assert.equal(auth.error?.code, "HOST_NOT_INSTALLED");
  } finally {
    await ctx2.close();
  }
});
