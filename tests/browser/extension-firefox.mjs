// The extension suite's checks that only Chromium had (extension.test.mjs), in headless Firefox
// ESR (puppeteer-core over WebDriver BiDi, drivers/firefox.mjs) with the development build, the
// real native host and the virtual token: the PIN window is an extension page the bank page
// cannot reach and the page never sees a PIN (acquisition and log-on); 取消 and Escape in the
// PIN window cancel; the popup (token state, tries left, 暗証番号の変更, a refused change) and the
// options page, each with axe-core. Not a *.test.mjs file: the Chromium suite runs those; this
// one runs from scripts/test.d/41-extension-firefox.sh.
//
//   node --test --test-concurrency=1 tests/browser/extension-firefox.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  ROOT, EXTENSION_DIR, HOST_BIN, VTOKEN_BIN, VToken, startRig, makeCa, serve, stopAll, takeSystemLock, tempDir,
} from "./rig.mjs";
import * as firefox from "./drivers/firefox.mjs";

const FACTORY_PIN = "123456";
/** The PIN the acquisition sets in place of the factory PIN, then the popup's. */
const PIN1 = "24681357";
const PIN2 = "97531864";
const PIN3 = "86420975";
const SHOTS = path.join(ROOT, "build/screenshots/firefox-extension");
const PIN_URL = `moz-extension://${firefox.EXTENSION_UUID}/pin.html`;
let tmp, token, browser, allowedServer, allowed, allowedOrigin;
/** The test CA's certificate (PEM): the bank's issuers. */
let CA;

before(async () => {
  for (const f of [path.join(EXTENSION_DIR, "manifest.json"), HOST_BIN, VTOKEN_BIN, firefox.FIREFOX_BIN]) {
    assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh --dev and cargo build -p kagi-host -p kagi-vtoken`);
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
  allowedOrigin = `http://127.0.0.1:${allowedServer.address().port}`;
  browser = await firefox.launch({ tmp, profile: "firefox-extension" });
  allowed = await browser.newPage();
  await allowed.goto(`${allowedOrigin}/`);
  await allowed.waitUntil("the test page", () => window.kagiTest && window.kagiTest.ready);
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  allowedServer?.close();
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Starts `kagi => ...` in the page without waiting for it (a BiDi evaluate must not be held open
 * while a PIN window waits for input); `result()` then polls for {ok} or {error:{code,...}}.
 */
async function start(body, arg) {
  const id = crypto.randomUUID();
  await allowed.evaluate(([id, body, arg]) => {
    window.kagiResults ??= {};
    window.kagiTest.run((kagi) => new Function("kagi", "arg", "t", body)(kagi, arg, window.kagiTest))
      .then((r) => { window.kagiResults[id] = r; });
  }, [id, body, arg]);
  return {
    result: (timeoutMs = 60000) => allowed.waitUntil(`the page's answer to ${body}`, (i) => window.kagiResults[i], id, timeoutMs),
  };
}

function nonce() {
  return crypto.randomBytes(32).toString("base64url");
}

function phase(win, want, timeoutMs) {
  return win.waitUntil(`PIN window phase ${want}`, (p) => document.getElementById("app")?.dataset.phase === p, want, timeoutMs);
}

/** The window goes away under the driver's click or key: that is not an error. */
function closing(e) {
  if (!/closed|destroyed|discarded|no such|target/i.test(String(e?.message ?? e))) throw e;
}

async function enterPins(win, pin, newPin) {
  await win.fill("#pin", pin);
  if (await win.exists("#new-pin")) {
    await win.fill("#new-pin", newPin);
    await win.fill("#new-pin-again", newPin);
  }
  await win.click("#ok");
}

/** Everything the bank page saw pass between it and the extension, as one string. */
async function pageMessages() {
  return (await allowed.evaluate(() => window.kagiTest.seen.messages)).join("\n");
}

test("acquisition: the PIN window is an extension page, the bank page never sees a PIN and cannot reach the window", async () => {
  const op = await start("return kagi.acquireCertificate({issuers: arg, algorithm: 'P-256', submitCsr: t.submitCsr})", CA);
  const win = await browser.pinWindow();
  assert.ok((await win.href()).startsWith(PIN_URL), await win.href());
  await phase(win, "confirm");
  assert.equal(await win.text("#origin"), allowedOrigin);
  assert.equal(await win.text("#purpose"), "電子証明書の保存");
  await win.click("#confirm");
  await phase(win, "pin");
  assert.equal(await win.attr("#pin", "type"), "password");
  await enterPins(win, "000000", PIN1);
  await win.waitUntil("tries left 2", () => /あと2回/.test(document.getElementById("error")?.textContent ?? ""));
  // The factory PIN alone is not enough: the window asks for a new one before anything is written.
  if (!(await win.exists("#new-pin"))) {
    await enterPins(win, FACTORY_PIN, PIN1);
    await win.waitFor("#new-pin");
  }
  await enterPins(win, FACTORY_PIN, PIN1);
  const r = await op.result(90000);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ok.certificate.issuer.commonName, "Kagi Test CA");
  await phase(win, "done");
  await win.screenshot(path.join(SHOTS, "pin-done.png"));
  // Every message between the page and the extension went past the page: none carries a PIN,
  // and the page has no PIN field of its own.
  const seen = await pageMessages();
  assert.ok(seen.length > 0, "the page saw no messages at all");
  for (const pin of [FACTORY_PIN, "000000", PIN1]) assert.ok(!seen.includes(pin), `PIN ${pin} reached the page`);
  assert.equal(await allowed.evaluate(() => document.querySelectorAll("input").length), 0);
  // The page cannot load the extension's window, nor find it among its frames or openers.
  const reach = await allowed.evaluate(async (u) => {
    try { const r = await fetch(u); return `fetched ${r.status}`; } catch { return "blocked"; }
  }, PIN_URL);
  assert.equal(reach, "blocked");
  // The same URL from the extension's own window loads: the page was refused, not a wrong URL.
  assert.equal(await win.evaluate(async (u) => (await fetch(u)).status, PIN_URL), 200);
  assert.equal(await win.evaluate(() => window.opener === null), true, "the PIN window has no opener the page could script");
  await win.click("#close").catch(closing);
  assert.equal(await browser.pinWindowCount(), 0);
});

test("log-on: kagi-auth:1 from the PIN window; the PIN never reaches the page", async () => {
  const op = await start("return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await browser.pinWindow();
  await phase(win, "pin");
  assert.equal(await win.text("#purpose"), "ログオン");
  await win.fill("#pin", PIN1);
  await win.click("#ok").catch(closing);
  const r = await op.result();
  assert.equal(r.ok?.format, "kagi-auth:1", JSON.stringify(r));
  assert.ok(!(await pageMessages()).includes(PIN1), "the log-on PIN reached the page");
});

test("取消 in the PIN window cancels the log-on", async () => {
  const op = await start("return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await browser.pinWindow();
  await win.waitFor("#cancel");
  await win.click("#cancel").catch(closing);
  const r = await op.result();
  assert.equal(r.error?.code, "CANCELLED", JSON.stringify(r));
});

test("Escape in the PIN window cancels the log-on and closes the window", async () => {
  const op = await start("return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await browser.pinWindow();
  await phase(win, "pin");
  assert.deepEqual(await win.axeViolations(), [], "PIN window (log-on)");
  await win.page.focus("#pin");
  await win.page.keyboard.press("Escape").catch(closing);
  const r = await op.result();
  assert.equal(r.error?.code, "CANCELLED", JSON.stringify(r));
  const end = Date.now() + 15000;
  while ((await browser.pinWindowCount()) > 0) {
    assert.ok(Date.now() < end, "the PIN window stayed open after Escape");
    await new Promise((res) => setTimeout(res, 150));
  }
});

test("popup: token state, tries left, 暗証番号の変更 and a refused change; options page", async () => {
  // Firefox will not let the driver open moz-extension:// URLs: the extension opens its popup page
  // itself, asked from an extension page (a log-on's PIN window, cancelled afterwards).
  const op = await start("return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const win = await browser.pinWindow();
  await phase(win, "pin");
  const popup = await browser.openExtensionPage("popup.html", win);
  await win.click("#cancel").catch(closing);
  assert.equal((await op.result()).error?.code, "CANCELLED");
  await popup.waitUntil("popup status with tries left", () => /暗証番号の残り入力回数：あと3回/.test(document.body.textContent));
  const text = await popup.evaluate(() => document.body.textContent);
  assert.match(text, /専用USBが接続されています/);
  await popup.screenshot(path.join(SHOTS, "popup.png"));
  assert.deepEqual(await popup.axeViolations(), [], "popup");
  await popup.press("#change-pin");
  await popup.fill("#current-pin", PIN1);
  await popup.fill("#new-pin", PIN2);
  await popup.fill("#new-pin-again", PIN2);
  await popup.click("#pin-submit");
  await popup.waitUntil("PIN changed", () => document.getElementById("pin-note")?.textContent === "暗証番号を変更しました。");
  // The same again with the old PIN: refused, tries left shown.
  await popup.press("#change-pin");
  await popup.fill("#current-pin", PIN1);
  await popup.fill("#new-pin", PIN3);
  await popup.fill("#new-pin-again", PIN3);
  await popup.click("#pin-submit");
  await popup.waitUntil("tries left 2", () => /あと2回/.test(document.getElementById("pin-note")?.textContent ?? ""));
  assert.deepEqual(await popup.axeViolations(), [], "popup (PIN change refused)");
  // The changed PIN is the token's now: a log-on with it goes through.
  const logon = await start("return kagi.authenticate(arg.nonce, {issuers: arg.ca})", { nonce: nonce(), ca: CA });
  const w2 = await browser.pinWindow();
  await phase(w2, "pin");
  await w2.fill("#pin", PIN2);
  await w2.click("#ok").catch(closing);
  assert.equal((await logon.result()).ok?.format, "kagi-auth:1");

  const options = await browser.openExtensionPage("options.html", popup);
  await options.waitFor("#language");
  assert.match(await options.text("#build"), /開発版/, "the options page says it is the development build");
  await options.screenshot(path.join(SHOTS, "options.png"));
  assert.deepEqual(await options.axeViolations(), [], "options page");
  await options.close();
  await popup.close();
});
