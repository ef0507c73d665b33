// Headless Chromium + the unpacked extension + the real native host + the virtual token.
// The development build (built-in http://127.0.0.1). Checks: status (with the bank's issuers)
// and presence-only insert/remove events reach the allowed page only; another origin gets no
// answer at all (not even to hello); the PIN window is an extension
// page and the page never sees the PIN; wrong PIN shows tries left; acquisition with the factory
// PIN replaced by a new one first; login; a blocked PIN unblocked from the PIN window with the
// PUK; PIN change in the popup; two tokens with the bank's certificate: the window asks which and
// remembers; a missing host. Accessibility (issue 15): axe-core finds no serious or critical
// violation in the PIN window, the popup and the options page; errors and tries left are alerts
// tied to the input; Escape cancels; the progress bar has a name; reduced motion stops the spinner.
// Support desk (issue 15): the popup shows both versions and copies the host's diagnosis (no PIN
// in it); without the host the toolbar badge says "!" and the copied text says HOST_NOT_INSTALLED.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import {
  ROOT, EXTENSION_ID, EXTENSION_DIR, HOST_BIN, VTOKEN_BIN, VToken, axeViolations, startRig, launchBrowser, makeCa, registerHost, serve,
  sleep, stopAll, takeSystemLock, tempDir, waitFor,
} from "./rig.mjs";

const FACTORY_PIN = "123456";
const PUK = "12345678";
/** The PIN the acquisition sets in place of the factory PIN, then the popup's and the unblock's. */
const PIN1 = "24681357";
const PIN2 = "97531864";
const PIN3 = "86420975";
const SHOTS = path.join(ROOT, "build/screenshots");
let tmp, token, ctx, allowedServer, otherServer, allowed, other, allowedOrigin, otherOrigin;
/** The test CA's certificate (PEM): the bank's issuers. */
let CA;

before(async () => {
  for (const f of [path.join(EXTENSION_DIR, "manifest.json"), HOST_BIN, VTOKEN_BIN]) {
    assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host -p kagi-vtoken`);
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = tempDir();
  await takeSystemLock();
  await startRig();
  token = new VToken(path.join(tmp, "token.json"));
  await token.start();
  await makeCa(tmp);
  CA = fs.readFileSync(path.join(tmp, "ca.pem"), "utf8");
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

/** The page's status with the bank's issuers. */
async function bankStatus(page = allowed) {
  const r = await run(page, "return kagi.status({issuers: arg})", CA);
  assert.equal(r.ok?.host, "ok", JSON.stringify(r));
  return r.ok;
}

function sha256(b64) {
  return crypto.createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");
}

test("the allowed page sees the host and the token", async () => {
  const st = await bankStatus();
  assert.deepEqual(st.readers.find((x) => x.name === "Virtual PCD 00 00"), { name: "Virtual PCD 00 00", tokenPresent: true });
  assert.equal(st.tokens.length, 1);
  assert.equal(st.token.reader, "Virtual PCD 00 00");
  assert.equal(st.token.pinRetries, 3);
  assert.equal(st.token.certificate, null, "a fresh token holds none of the bank's certificates");
  assert.equal(st.token.managementKey, "factory");
  // What a support desk asks (issue 15): kagi.js's, the extension's and the host's versions —
  // the workspace's for the library and the host, the manifest's for the extension.
  const workspace = /^version = "(.*)"$/m.exec(fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))[1];
  const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, "manifest.json"), "utf8")).version;
  assert.deepEqual(st.versions, { library: workspace, extension: manifest, host: workspace });
  // Without issuers: the same token, presence and PIN state only.
  const bare = await run(allowed, "return kagi.status()");
  assert.equal(bare.ok?.token?.reader, "Virtual PCD 00 00", JSON.stringify(bare));
  // Log-on and acquisition need the issuers.
  const auth = await run(allowed, "return kagi.authenticate(arg)", nonce());
  assert.equal(auth.error?.code, "BAD_REQUEST");
});

test("another origin gets no answer at all: not to hello, status or subscribe", async () => {
  // By hand, as a fingerprinting page would: nothing comes back, not even the version.
  const seen = await other.evaluate(async () => {
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
      post({ type: "request", id: `r${i + 2}`, cmd: "authenticate", args: {} });
    }
    window.removeEventListener("message", listen);
    return seen;
  });
  assert.deepEqual(seen, []);
  // Through the page library: as if Kagi were not installed.
  const st = await run(other, "return kagi.status({issuers: arg})", CA);
  assert.equal(st.error?.code, "EXTENSION_NOT_INSTALLED", JSON.stringify(st));
  assert.equal(st.error.isKagiError, true);
  assert.equal(ctx.pages().filter((p) => p.url().includes("/pin.html")).length, 0, "no PIN window for another origin");
  // The same machinery answers the allowed page (the silence is not a broken extension).
  assert.equal((await bankStatus()).host, "ok");
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
  // The other page subscribes by hand (kagi.js would not connect): it must still hear nothing.
  await other.evaluate(() => window.postMessage({ type: "subscribe", channel: "kagi:page" }, location.origin));
  const count = (p) => p.evaluate(() => window.kagiTest.seen.events.length);
  const before = { a: await count(allowed), o: await count(other) };
  await token.stop();
  await waitFor("removed event", async () => (await allowed.evaluate(() => window.kagiTest.seen.events)).slice(before.a).some((e) => e.type === "removed"));
  await token.start();
  const ev = await waitFor("inserted event", async () =>
    (await allowed.evaluate(() => window.kagiTest.seen.events)).slice(before.a).find((e) => e.type === "inserted"));
  assert.deepEqual(ev, { type: "inserted", reader: "Virtual PCD 00 00" }, "presence and reader only");
  await waitFor("token readable after insertion", async () => (await bankStatus()).token?.reader === "Virtual PCD 00 00");
  await sleep(500);
  assert.equal(await count(other), before.o, "the other origin got no events");
  const leaked = await other.evaluate(() => window.kagiTest.seen.messages.filter((m) => m.includes("inserted") || m.includes("removed")));
  assert.deepEqual(leaked, []);
});

/** Fills the PIN fields the window shows: the PIN, and the new PIN twice when asked. */
async function enterPins(win, pin, newPin) {
  await win.fill("#pin", pin);
  if (await win.locator("#new-pin").count()) {
    await win.fill("#new-pin", newPin);
    await win.fill("#new-pin-again", newPin);
  }
  await win.click("#ok");
}

test("acquisition: confirm with first-use set-up, wrong PIN shows tries left, factory PIN replaced, CSR to the bank's CA, stored; the page never sees a PIN", async () => {
  const steps = [];
  await allowed.exposeFunction("kagiStep", (s) => steps.push(s));
  const pending = run(allowed, "return kagi.acquireCertificate({issuers: arg, algorithm: 'P-256', submitCsr: t.submitCsr, onProgress: (p) => window.kagiStep(p.step)})", CA);
  const win = await nextPinWindow(async () => {});
  assert.ok(win.url().startsWith(`chrome-extension://${EXTENSION_ID}/pin.html`), win.url());
  await win.waitForSelector("#confirm");
  assert.equal(await win.textContent("#origin"), allowedOrigin);
  assert.equal(await win.textContent("#purpose"), "電子証明書の保存");
  assert.match(await win.textContent("#setup"), /初期設定/, "the factory management key is announced");
  await win.screenshot({ path: path.join(SHOTS, "pin-confirm.png") });
  assert.equal(await win.getAttribute("progress", "aria-label"), "電子証明書の保存の進み具合");
  assert.equal(await win.getAttribute("progress", "aria-valuetext"), "確認");
  assert.deepEqual(await axeViolations(win), [], "PIN window (confirm)");
  await win.click("#confirm");
  await win.waitForSelector("#pin");
  assert.equal(await win.getAttribute("#pin", "type"), "password");
  await enterPins(win, "000000", PIN1);
  await win.waitForSelector("#error");
  assert.match(await win.textContent("#error"), /あと2回/);
  assert.match(await win.textContent("#retries"), /2/);
  // Read out when shown, and tied to the field the customer types in.
  assert.equal(await win.getAttribute("#error", "role"), "alert");
  assert.equal(await win.getAttribute("#retries", "role"), "alert");
  assert.deepEqual((await win.getAttribute("#pin", "aria-describedby")).split(" ").sort(), ["error", "retries"]);
  assert.equal(await win.getAttribute("#pin", "aria-invalid"), "true");
  assert.deepEqual(await axeViolations(win), [], "PIN window (wrong PIN)");
  await win.screenshot({ path: path.join(SHOTS, "pin-wrong.png") });
  // The factory PIN alone is not enough: the window asks for a new one (at once when the token
  // said pinDefault, else after the host's PIN_CHANGE_REQUIRED) before anything is written.
  if (!(await win.locator("#new-pin").count())) {
    await enterPins(win, FACTORY_PIN, PIN1);
    await win.waitForSelector("#new-pin");
    assert.match(await win.textContent("#error"), /初期設定/);
  }
  await win.screenshot({ path: path.join(SHOTS, "pin-new.png") });
  // A weak new PIN is refused in the window.
  await enterPins(win, FACTORY_PIN, "111111");
  await win.waitForFunction(() => /使用できません/.test(document.querySelector("#error")?.textContent ?? ""));
  await enterPins(win, FACTORY_PIN, PIN1);
  await win.waitForSelector("#working, #done", { timeout: 60000 });
  await win.screenshot({ path: path.join(SHOTS, "pin-progress.png") });
  const r = await pending;
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ok.certificate.serial, "6d89a42202c56aafed5e6c8de3277d8c");
  assert.equal(r.ok.certificate.issuer.commonName, "Kagi Test CA");
  await win.waitForSelector("#done");
  await win.screenshot({ path: path.join(SHOTS, "pin-done.png") });
  const dedup = steps.filter((s, i) => s !== steps[i - 1]);
  assert.deepEqual(dedup.slice(0, 4), ["confirm", "pin", "generate", "pin"], dedup.join());
  assert.deepEqual(dedup.slice(-3), ["generate", "issue", "store"], dedup.join());
  // submitCsr got the token's key attestation beside the CSR: openssl finds it chains to
  // kagi-vtoken's test attestation root through the F9 certificate, for the CSR's key.
  const [sub] = await allowed.evaluate(() => window.kagiTest.seen.submitted);
  assert.deepEqual(Object.keys(sub.attestation).sort(), ["attestation", "attestationIntermediate"]);
  checkAttestation(sub.csr, sub.attestation);
  // The bank page saw every message between it and the extension: none carries a PIN, and
  // the page has no PIN field of its own.
  const seen = await allowed.evaluate(() => window.kagiTest.seen.messages);
  assert.ok(seen.length > 0);
  assert.ok(!seen.some((m) => m.includes(FACTORY_PIN) || m.includes("000000") || m.includes(PIN1)), "PIN leaked to the page");
  assert.equal(await allowed.locator("input").count(), 0);
  // The page cannot reach into the extension's window.
  const reach = await allowed.evaluate(async (id) => {
    try { const r = await fetch(`chrome-extension://${id}/pin.html`); return `fetched ${r.status}`; } catch { return "blocked"; }
  }, EXTENSION_ID);
  assert.equal(reach, "blocked");
  // The window closes itself on the click, possibly before click() has returned.
  await win.click("#close").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  await waitFor("the PIN window closed", async () => win.isClosed());
  const st = await bankStatus();
  assert.equal(st.token.certificate?.serial, "6d89a42202c56aafed5e6c8de3277d8c");
  assert.equal(st.token.managementKey, "pinProtected", "set up for first use");
  assert.notEqual(st.token.pinDefault, true);
});

/** openssl: `att` (base64 DER statement + F9 certificate) chains to the test attestation root and attests the CSR's key. */
function checkAttestation(csrB64, att) {
  const dir = fs.mkdtempSync(path.join(tmp, "att-"));
  const pem = (b64) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join("\n")}\n-----END CERTIFICATE-----\n`;
  const f = (name, text) => { fs.writeFileSync(path.join(dir, name), text); return path.join(dir, name); };
  const root = f("root.pem", execFileSync(VTOKEN_BIN, ["--print-attestation-root"]).toString());
  const stmt = f("att.pem", pem(att.attestation));
  const f9 = f("f9.pem", pem(att.attestationIntermediate));
  const csr = f("csr.der", Buffer.from(csrB64, "base64"));
  const verified = execFileSync("openssl", ["verify", "-CAfile", root, "-untrusted", f9, stmt]).toString();
  assert.match(verified, /: OK/);
  const attKey = execFileSync("openssl", ["x509", "-in", stmt, "-noout", "-pubkey"]).toString();
  const csrKey = execFileSync("openssl", ["req", "-inform", "DER", "-in", csr, "-noout", "-pubkey"]).toString();
  assert.equal(attKey, csrKey, "the attested key is the CSR's");
}

/** Logs on from the allowed page with `pin`; returns the login token. */
async function logOn(pin, { choose } = {}) {
  const pending = run(allowed, "return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await nextPinWindow(async () => {});
  if (choose !== undefined) {
    await win.waitForSelector("#choices");
    await win.screenshot({ path: path.join(SHOTS, "pin-choose.png") });
    await win.click(`#choice-${choose}`);
  }
  await win.waitForSelector("#pin");
  assert.equal(await win.textContent("#purpose"), "ログオン");
  await win.fill("#pin", pin);
  // Enter submits; the window then closes itself, possibly before press() has returned.
  await win.press("#pin", "Enter").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  const r = await pending;
  assert.equal(r.ok?.format, "kagi-auth:1", JSON.stringify(r));
  return r.ok;
}

test("login: PIN window for ログオン, kagi-auth:1 token with the bank's certificate", async () => {
  const login = await logOn(PIN1);
  assert.equal(login.algorithm, "ES256");
  assert.equal(sha256(login.certificate), (await bankStatus()).token.certificate.sha256);
  const seen = await allowed.evaluate(() => window.kagiTest.seen.messages);
  assert.ok(!seen.some((m) => m.includes(PIN1)));
});

test("closing the PIN window cancels", async () => {
  const pending = run(allowed, "return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await nextPinWindow(async () => {});
  await win.waitForSelector("#cancel");
  // The click closes the window: Playwright may report the page gone before the click returns.
  await win.click("#cancel").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  const r = await pending;
  assert.equal(r.error?.code, "CANCELLED");
  await waitFor("the PIN window closed", async () => win.isClosed());
});

test("Escape in the PIN window cancels", async () => {
  const pending = run(allowed, "return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await nextPinWindow(async () => {});
  await win.waitForSelector("#pin");
  assert.deepEqual(await axeViolations(win), [], "PIN window (log-on)");
  await win.press("#pin", "Escape").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  const r = await pending;
  assert.equal(r.error?.code, "CANCELLED");
  await waitFor("the PIN window closed", async () => win.isClosed());
});

test("popup: token state and 暗証番号の変更", async () => {
  const p = await ctx.newPage();
  await p.goto(`chrome-extension://${EXTENSION_ID}/popup.html`);
  await p.waitForSelector("#change-pin");
  const text = await p.textContent("body");
  assert.match(text, /専用USBが接続されています/);
  assert.match(text, /暗証番号の残り入力回数：あと3回/);
  assert.doesNotMatch(text, /6d89a42202c56aafed5e6c8de3277d8c/, "the popup asks without issuers: no certificate");
  await p.screenshot({ path: path.join(SHOTS, "popup.png") });
  assert.deepEqual(await axeViolations(p), [], "popup");
  // The check can fail: grey on white (2.3:1) is reported.
  await p.evaluate(() => document.body.appendChild(Object.assign(document.createElement("p"), { id: "faint", textContent: "薄い文字", style: "color:#aaa" })));
  assert.match((await axeViolations(p)).join("\n"), /color-contrast \(serious\).*#faint/);
  await p.evaluate(() => document.getElementById("faint").remove());
  // The spinner of a running operation turns, unless the system asks for reduced motion.
  const spin = () => p.evaluate(() => {
    const w = document.body.appendChild(Object.assign(document.createElement("p"), { className: "working" }));
    const name = getComputedStyle(w, "::before").animationName;
    w.remove();
    return name;
  });
  assert.equal(await spin(), "spin");
  await p.emulateMedia({ reducedMotion: "reduce" });
  assert.equal(await spin(), "none");
  await p.emulateMedia({ reducedMotion: null });
  await p.click("#change-pin");
  await p.fill("#current-pin", PIN1);
  await p.fill("#new-pin", PIN2);
  await p.fill("#new-pin-again", PIN2);
  await p.screenshot({ path: path.join(SHOTS, "popup-pin-change.png") });
  await p.click("#pin-submit");
  await p.waitForSelector("#pin-note");
  assert.equal(await p.textContent("#pin-note"), "暗証番号を変更しました。");
  // The same again with the old PIN: refused, tries left shown.
  await p.click("#change-pin");
  await p.fill("#current-pin", PIN1);
  await p.fill("#new-pin", PIN3);
  await p.fill("#new-pin-again", PIN3);
  await p.click("#pin-submit");
  await p.waitForFunction(() => /あと2回/.test(document.querySelector("#pin-note")?.textContent ?? ""));
  assert.deepEqual(await axeViolations(p), [], "popup (PIN change refused)");
  const o = await ctx.newPage();
  await o.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await o.waitForSelector("#language");
  assert.match(await o.textContent("#build"), /開発版/, "the options page says it is the development build");
  await o.screenshot({ path: path.join(SHOTS, "options.png") });
  assert.deepEqual(await axeViolations(o), [], "options page");
  await o.close();
  await p.close();
});

/** The extension's version (its manifest) and the host's (the workspace's). */
function versions() {
  const ext = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, "manifest.json"), "utf8")).version;
  const host = fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
  return { ext, host };
}

/** Clicks 「診断情報をコピー」 in the popup `p` and returns what landed in the clipboard. */
async function copyDiagnostics(p) {
  await p.evaluate(() => navigator.clipboard.writeText("(nothing copied)"));
  await p.click("#copy-diagnostics");
  await p.waitForSelector("#copy-note");
  assert.equal(await p.textContent("#copy-note"), "コピーしました");
  // Read back as the customer would: paste into a text field (Chromium refuses clipboard-read
  // grants to extension origins).
  await p.evaluate(() => document.body.appendChild(Object.assign(document.createElement("textarea"), { id: "paste" })));
  await p.focus("#paste");
  await p.keyboard.press("Control+V");
  const text = await p.inputValue("#paste");
  await p.evaluate(() => document.getElementById("paste").remove());
  return text;
}

test("popup: both versions, and 診断情報をコピー copies the host's diagnosis without a PIN", async () => {
  const v = versions();
  const p = await ctx.newPage();
  await p.goto(`chrome-extension://${EXTENSION_ID}/popup.html`);
  await p.waitForSelector("#host-version");
  assert.equal(await p.textContent("#extension-version"), `拡張機能のバージョン：${v.ext}`);
  assert.equal(await p.textContent("#host-version"), `管理ソフトのバージョン：${v.host}`);
  assert.match(await p.textContent("body"), /専用USBが接続されています/);
  // The host is there: no badge.
  assert.equal(await p.evaluate(() => chrome.action.getBadgeText({})), "");
  const text = await copyDiagnostics(p);
  assert.ok(text.startsWith(`Kagi 拡張機能 / Extension: ${v.ext}\n`), text);
  assert.ok(text.includes(`管理ソフト / Host: kagi-host ${v.host} (protocol `), text);
  // The token's block: the support desk sees the tries left, never a PIN or the PUK.
  assert.match(text, /暗証番号の残り回数 \/ PIN tries left: \d/);
  for (const secret of [FACTORY_PIN, PUK, PIN1, PIN2, PIN3]) assert.ok(!text.includes(secret), `the copied text holds ${secret}`);
  await p.screenshot({ path: path.join(SHOTS, "popup-diagnostics.png") });
  assert.deepEqual(await axeViolations(p), [], "popup (diagnostics copied)");
  await p.close();
});

test("renewal badge: the bank page's certificate is remembered; in its renewal window the toolbar and the popup say so", async () => {
  const st = await bankStatus();
  const cert = st.token.certificate;
  assert.ok(cert?.notAfter, JSON.stringify(st));
  const p = await ctx.newPage();
  await p.goto(`chrome-extension://${EXTENSION_ID}/popup.html`);
  await p.waitForSelector("#host-version");
  const stored = () => p.evaluate(() => chrome.storage.local.get("bankCertificates").then((r) => r.bankCertificates ?? {}));
  assert.deepEqual((await stored())[allowedOrigin], { notBefore: cert.notBefore, notAfter: cert.notAfter }, "the page's status was remembered");
  // A year left: no badge, no warning.
  assert.equal(await p.evaluate(() => chrome.action.getBadgeText({})), "");
  assert.equal(await p.$("#renewal-note"), null);
  // The same certificate ten days before its end (as time would bring it): the toolbar says so
  // with the browser's words, the popup with the extension's.
  const soon = new Date(Date.now() + 10 * 86400000 - 3600000).toISOString().replace(/\.\d+Z$/, "Z");
  await p.evaluate(([o, v]) => chrome.storage.local.set({ bankCertificates: { [o]: v } }), [allowedOrigin, { notBefore: cert.notBefore, notAfter: soon }]);
  const want = await p.evaluate(() => [chrome.i18n.getMessage("badgeRenewalText"), chrome.i18n.getMessage("badgeRenewal")]);
  assert.ok(want[0] && want[1], "the badge's words are in _locales");
  await waitFor("the renewal badge", async () => (await p.evaluate(() => chrome.action.getBadgeText({}))) === want[0], 5000);
  assert.equal(await p.evaluate(() => chrome.action.getTitle({})), want[1]);
  await p.reload();
  await p.waitForSelector("#renewal-note");
  assert.match(await p.textContent("#renewal-note"), /あと10日です。更新期間中です/);
  assert.ok(await p.$("a.renew"), "the popup links to the bank's log-on page for renewal");
  await p.screenshot({ path: path.join(SHOTS, "popup-renewal.png") });
  assert.deepEqual(await axeViolations(p), [], "popup (renewal)");
  // The bank page shows the token's real certificate again: remembered, and the badge goes.
  await bankStatus();
  await waitFor("the badge to go", async () => (await p.evaluate(() => chrome.action.getBadgeText({}))) === "", 5000);
  assert.equal((await stored())[allowedOrigin].notAfter, cert.notAfter);
  await p.close();
});

test("a blocked PIN is unblocked with the PUK from the PIN window, then the log-on goes on", async () => {
  const pending = run(allowed, "return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await nextPinWindow(async () => {});
  // One try was used in the popup: two more wrong PINs block it.
  for (const left of [1, 0]) {
    await win.waitForSelector("#pin");
    await win.fill("#pin", "000000");
    await win.click("#ok");
    if (left > 0) await win.waitForFunction((n) => (document.querySelector("#error")?.textContent ?? "").includes(`あと${n}回`), left);
  }
  await win.waitForSelector("#puk");
  assert.match(await win.textContent("#blocked"), /ロックされています/);
  await win.screenshot({ path: path.join(SHOTS, "pin-blocked.png") });
  await win.fill("#puk", "00000000");
  await win.fill("#new-pin", PIN3);
  await win.fill("#new-pin-again", PIN3);
  await win.click("#unblock");
  await win.waitForFunction(() => /あと2回/.test(document.querySelector("#error")?.textContent ?? ""));
  await win.fill("#puk", PUK);
  await win.fill("#new-pin", PIN3);
  await win.fill("#new-pin-again", PIN3);
  await win.click("#unblock");
  await win.waitForSelector("#unblocked");
  await win.fill("#pin", PIN3);
  await win.press("#pin", "Enter").catch((e) => {
    if (!win.isClosed() && !/closed/.test(String(e))) throw e;
  });
  const r = await pending;
  assert.equal(r.ok?.format, "kagi-auth:1", JSON.stringify(r));
  const st = await bankStatus();
  assert.equal(st.token.pinRetries, 3);
});

test("two tokens with the bank's certificate: the window asks which, and remembers", async () => {
  // A second token in reader 1 gets its own certificate while the first is out.
  await token.stop();
  const second = new VToken(path.join(tmp, "token2.json"), { reader: 1 });
  await second.start();
  await waitFor("second token", async () => (await bankStatus()).tokens.some((t) => t.reader === "Virtual PCD 00 01"));
  const pending = run(allowed, "return kagi.acquireCertificate({issuers: arg, submitCsr: t.submitCsr})", CA);
  const win = await nextPinWindow(async () => {});
  await win.click("#confirm");
  await win.waitForSelector("#pin");
  assert.equal(await win.textContent("#reader"), "Virtual PCD 00 01");
  if (!(await win.locator("#new-pin").count())) {
    await enterPins(win, FACTORY_PIN, PIN1);
    await win.waitForSelector("#new-pin");
  }
  await enterPins(win, FACTORY_PIN, PIN1);
  const acq = await pending;
  assert.ok(acq.ok, JSON.stringify(acq));
  await win.close();
  await token.start();
  const st = await waitFor("both tokens", async () => {
    const s = await bankStatus();
    return s.tokens.filter((t) => t.certificate).length === 2 ? s : null;
  });
  const sha1 = st.tokens.find((t) => t.reader === "Virtual PCD 00 01").certificate.sha256;
  const first = await logOn(PIN1, { choose: st.tokens.findIndex((t) => t.reader === "Virtual PCD 00 01") });
  assert.equal(sha256(first.certificate), sha1, "signed with the chosen certificate");
  // Asked once: the next log-on uses the same certificate without asking.
  const again = await logOn(PIN1);
  assert.equal(sha256(again.certificate), sha1);
  // The choice is the extension's: the page's storage and messages know nothing of it.
  const seen = await allowed.evaluate(() => window.kagiTest.seen.messages.join());
  assert.ok(!seen.includes("certificateChoices"));
  await second.stop();
});

test("without the native host: HOST_NOT_INSTALLED, not a hang", async () => {
  const ctx2 = await launchBrowser(tmp, { withHost: false });
  try {
    const p = await ctx2.newPage();
    await p.goto(`${allowedOrigin}/`);
    await p.waitForFunction(() => window.kagiTest && window.kagiTest.ready);
    const st = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
    assert.equal(st.ok?.host, "HOST_NOT_INSTALLED", JSON.stringify(st));
    assert.deepEqual(st.ok.tokens, []);
    const auth = await p.evaluate(([n, ca]) => window.kagiTest.run((k) => k.authenticate(n, { issuers: ca })), [nonce(), CA]);
    assert.equal(auth.error?.code, "HOST_NOT_INSTALLED");
    // The toolbar badge says so without opening the popup; the popup's diagnosis too, with the
    // extension's version, so a support desk still learns something.
    const popup = await ctx2.newPage();
    await popup.goto(`chrome-extension://${EXTENSION_ID}/popup.html`);
    await popup.waitForSelector("#copy-diagnostics");
    assert.equal(await popup.evaluate(() => chrome.action.getBadgeText({})), "!");
    assert.match(await popup.textContent("body"), /管理ソフトがインストールされていません/);
    const text = await copyDiagnostics(popup);
    assert.ok(text.startsWith(`Kagi 拡張機能 / Extension: ${versions().ext}\n`), text);
    assert.match(text, /管理ソフト \/ Host: HOST_NOT_INSTALLED/);
    // Installed meanwhile: the popup's next request connects, and the badge goes.
    await registerHost("chromium", path.join(tmp, "profile-nohost"));
    await popup.reload();
    await popup.waitForSelector("#host-version");
    await waitFor("the badge to go", async () => (await popup.evaluate(() => chrome.action.getBadgeText({}))) === "", 10000);
  } finally {
    await ctx2.close();
  }
});
