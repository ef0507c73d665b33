// A bank customer's whole journey in a real browser: the built extension, the real native host
// registered for the browser, pcscd + vpcd + the virtual token (kagi-vtoken), and the demo bank
// (kagi-bank). No mocks: the bank sits behind a pass-through proxy only so that the test can
// hold the CSR request during the renewal and serve the bank's page on a foreign origin.
//
//   KAGI_JOURNEY_BROWSER=chromium|firefox node --test --test-concurrency=1 tests/browser/journey.mjs
//
// Environment: KAGI_JOURNEY_BROWSER (default chromium); KAGI_JOURNEY_DIR (bank data, token state,
// profiles; default a fresh temporary directory removed afterwards); KAGI_SCREENSHOTS (default
// build/screenshots/<browser>). Steps run in order on one bank, one token and one browser
// profile; after a failed step the rest are skipped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, EXTENSION_DIR, HOST_BIN, VTOKEN_BIN, VToken, ensurePcscd, sleep, stopAll, takeRigLock, tempDir } from "./rig.mjs";
import { BANK_BIN, BankProxy, DEMO_CUSTOMER, DemoBank, normSerial } from "./bank.mjs";
import { withTimeout } from "./drivers/page.mjs";

const BROWSER = process.env.KAGI_JOURNEY_BROWSER || "chromium";
const driver = await import(`./drivers/${BROWSER}.mjs`);
const SHOTS = process.env.KAGI_SCREENSHOTS || path.join(ROOT, "build/screenshots", BROWSER);
const PIN = "123456";
const CUSTOMER_NAME = "かぎ商事株式会社";
const STEP_TIMEOUT = 180_000;
const RENEWAL_DAYS = 340;   // a 1-year certificate is renewable from 30 days before its expiry
// Native host manifests a system install would add: with one present, "host not installed"
// cannot be shown in this browser.
const SYSTEM_MANIFESTS = {
  chromium: ["/etc/chromium/native-messaging-hosts/jp.kagi.host.json"],
  firefox: ["/usr/lib/mozilla/native-messaging-hosts/jp.kagi.host.json", "/usr/lib64/mozilla/native-messaging-hosts/jp.kagi.host.json"],
};

let dir, keepDir, token, bank, proxy, browser, login, origin, foreignOrigin;
let shotNo = 0;
let broken = null;
const journey = {};   // what later steps need from earlier ones

/** One journey step: a test that is skipped once an earlier one failed. */
function step(name, fn) {
  test(name, { timeout: STEP_TIMEOUT }, async (t) => {
    if (broken) return t.skip(`skipped: "${broken}" failed`);
    try {
      await fn(t);
    } catch (e) {
      broken = name;
      if (login && !login.closed()) await shot(login, `FAILED-${name.split(" ")[0]}`).catch(() => {});
      throw e;
    }
  });
}

/** Saves a PNG as <SHOTS>/<NN>-<name>.png. */
async function shot(page, name, size) {
  shotNo += 1;
  const file = path.join(SHOTS, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot(file, size);
  return file;
}
const PIN_WINDOW_SIZE = { width: 440, height: 560 };

function launch(opts = {}) {
  return driver.launch({ tmp: dir, profile: BROWSER, ...opts });
}

/** Answers a PIN window for a log-on or for the confirmed acquisition. */
async function typePin(win, pin) {
  await win.waitUntil("PIN field", () => document.getElementById("app")?.dataset.phase === "pin" && !!document.getElementById("pin"));
  await win.fill("#pin", pin);
  await win.click("#ok");
}

/** 【閉じる】 in the PIN window: the window goes away under the driver's click. */
async function closeWindow(win) {
  await win.click("#close").catch((e) => {
    if (!/closed|destroyed|discarded|no such/i.test(e.message)) throw e;
  });
}

/** The certificates on the token, read with OpenSC (independent of the host's PIV code). */
function tokenCertificates() {
  const list = execFileSync("pkcs15-tool", ["--list-certificates"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const certs = [];
  for (const block of list.split(/\n(?=X\.509 Certificate)/)) {
    const label = block.match(/X\.509 Certificate \[(.*)\]/)?.[1];
    const id = block.match(/\bID\s*:\s*([0-9a-fA-F]+)/)?.[1];
    if (!label || !id) continue;
    const pem = execFileSync("pkcs15-tool", ["--read-certificate", id], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const x = new crypto.X509Certificate(pem);
    certs.push({ label, id, serial: normSerial(x.serialNumber), subject: x.subject, x509: x });
  }
  return certs;
}

/** The browser's view of the bank session (the page's own cookie). */
function session(page) {
  return page.evaluate(() => fetch("/api/session").then((r) => r.json()));
}

/** A real (non-virtual) token would be used by the host instead of ours: refuse to run. */
function realTokenPresent() {
  try {
    const out = execFileSync("opensc-tool", ["-l"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return out.split("\n").find((l) => /\bYes\b/.test(l) && !l.includes("Virtual PCD"));
  } catch {
    return undefined;
  }
}

before(async () => {
  for (const f of [path.join(EXTENSION_DIR, "manifest.json"), HOST_BIN, VTOKEN_BIN, BANK_BIN]) {
    assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host -p kagi-vtoken -p kagi-bank`);
  }
  keepDir = !!process.env.KAGI_JOURNEY_DIR;
  if (keepDir) {
    dir = path.resolve(process.env.KAGI_JOURNEY_DIR);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
  } else {
    dir = tempDir();
  }
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  const t0 = Date.now();
  await takeRigLock();
  const waited = Date.now() - t0;
  await ensurePcscd();
  await sleep(500);   // let pcscd poll the readers once
  const real = realTokenPresent();
  assert.ok(!real, `a token is inserted in another reader (${real?.trim()}): the journey pulls and plugs the virtual token, remove the real one first`);
  token = new VToken(path.join(dir, "token.json"));
  // The bank behind the proxy: the customer's origin is the proxy's, on 127.0.0.1; the same
  // pages on 127.0.0.2 (same port) are a foreign origin the extension does not serve.
  proxy = new BankProxy(() => bank.port);
  const port = await proxy.listen(["127.0.0.1", "127.0.0.2"]);
  origin = `http://127.0.0.1:${port}`;
  foreignOrigin = `http://127.0.0.2:${port}`;
  bank = new DemoBank(path.join(dir, "bank"), [origin], path.join(dir, "bank.log"));
  // The first certificate is issued 340 days in the past (the bank's clock runs behind); step 6
  // sets the bank's clock right, which moves it into the renewal window. Moving the bank's
  // clock forward instead would issue the renewed certificate 340 days ahead of the PC's clock,
  // and the host rightly does not log on with a certificate that is not valid yet.
  await bank.start({ clockOffsetDays: -RENEWAL_DAYS });
  const t1 = Date.now();
  browser = await launch();
  console.log(`# ${BROWSER}: bank ${origin} (data ${bank.dataDir}), screenshots in ${SHOTS}`);
  console.log(`# rig lock after ${waited} ms, browser started in ${Date.now() - t1} ms`);
});

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    const t = Date.now();
    await browser?.close();
    const tb = Date.now();
    proxy?.close();
    await stopAll();
    console.log(`# stopped: browser ${tb - t} ms, bank, token and the rest ${Date.now() - tb} ms`);
    if (dir && !keepDir) fs.rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
after(cleanup);
// Ctrl-C / kill (scripts/demo.sh forwards them): stop the browser, bank and token first.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    console.log(`# ${sig}: stopping what the journey started`);
    cleanup().finally(() => process.exit(130));
  });
}

step("1. token absent: status, 【取得】 refused, plugging the token in updates the page without a reload", async () => {
  login = await browser.newPage();
  await login.goto(`${origin}/`);
  const st = await login.status("no-token");
  assert.match(st.text, /専用USBが接続されていません/);
  await shot(login, "login-no-token");
  await login.press("#logon-button");
  await login.waitFor("#logon-error");
  assert.equal(await login.attr("#logon-error", "data-code"), "TOKEN_ABSENT");
  assert.equal(await browser.pinWindowCount(), 0);

  // The acquisition in a second tab: contract information is accepted, saving is refused.
  const acq = await browser.newPage();
  await acq.goto(`${origin}/`);
  await acq.press("#acquire-button");
  await acq.waitPath("/acquire");
  await acq.fill("#contract-number", DEMO_CUSTOMER.contractNumber);
  await acq.fill("#acquire-password", DEMO_CUSTOMER.password);
  await acq.click("#get-button");
  await acq.waitFor("#save-usb-button");
  await acq.status("no-token");
  await acq.press("#save-usb-button");
  await acq.waitFor("#acquire-error");
  assert.equal(await acq.attr("#acquire-error", "data-code"), "TOKEN_ABSENT");
  assert.match(await acq.text("#acquire-error"), /専用USBが接続されていません。専用USBを接続してから/);
  assert.equal(await browser.pinWindowCount(), 0);
  await shot(acq, "acquire-no-token");

  // Plug the token in: both pages follow the extension's event, neither reloads.
  for (const p of [login, acq]) await p.evaluate(() => { window.kagiJourneyMark = 1; });
  await token.start();
  for (const p of [login, acq]) {
    const now = await p.status("no-certificate");
    assert.match(now.text, /専用USBに電子証明書が保存されていません/);
    assert.equal(await p.evaluate(() => window.kagiJourneyMark), 1, "the page was reloaded");
  }
  await shot(login, "login-token-plugged");
  await acq.close();
});

step("2. acquisition from the login screen: contract, 【取得】, 【専用USBに保存する】, PIN window, progress, completion; on the token and in the bank", async () => {
  await login.press("#acquire-button");
  await login.waitPath("/acquire");
  await shot(login, "acquire-contract-form");
  await login.fill("#contract-number", DEMO_CUSTOMER.contractNumber);
  await login.fill("#acquire-password", DEMO_CUSTOMER.password);
  await login.click("#get-button");
  await login.waitFor("#save-usb-button");
  assert.equal(await login.attr("#contract-confirmed", "data-eligibility"), "FIRST_ISSUE");
  await login.status("no-certificate");
  await shot(login, "acquire-save-step");

  await login.click("#save-usb-button");
  const win = await browser.pinWindow();
  await win.waitUntil("confirmation", () => document.getElementById("app")?.dataset.phase === "confirm");
  assert.equal(await win.text("#origin"), origin);
  assert.equal(await win.text("#purpose"), "電子証明書の保存");
  await shot(win, "pin-window-confirm", PIN_WINDOW_SIZE);
  await win.click("#confirm");
  await win.waitUntil("PIN field", () => !!document.getElementById("pin"));
  await win.fill("#pin", PIN);
  await shot(win, "pin-window-pin", PIN_WINDOW_SIZE);
  await win.click("#ok");
  // The page shows the steps after the PIN (generate, issue, store), then moves on.
  const shown = await login.waitUntil("progress shown", () => location.pathname === "/acquire/complete"
    ? "complete" : ["generate", "issue", "store", "done"].includes(document.getElementById("acquire-progress")?.dataset.step) && "progress");
  if (shown === "progress") await shot(login, "acquire-progress");
  await login.waitPath("/acquire/complete", 90_000);
  await win.waitFor("#done");
  await shot(win, "pin-window-done", PIN_WINDOW_SIZE);
  await closeWindow(win);

  const page = {
    commonName: await login.text("#cert-common-name"),
    serial: normSerial(await login.text("#cert-serial")),
    issued: await login.text("#cert-ou-2"),
    validity: await login.text("#cert-validity"),
  };
  assert.equal(page.commonName, DEMO_CUSTOMER.commonName);
  assert.equal(page.issued, "IssuedCount=001");
  assert.match(await login.text("#cert-country"), /^JP$/);
  assert.ok(page.serial.length >= 16, `serial ${page.serial}`);
  await shot(login, "acquire-complete");

  // The certificate the page shows is on the token (read with OpenSC) ...
  const onToken = tokenCertificates();
  const mine = onToken.find((c) => c.serial === page.serial);
  assert.ok(mine, `serial ${page.serial} not on the token: ${JSON.stringify(onToken.map((c) => [c.label, c.id, c.serial]))}`);
  assert.match(mine.subject, new RegExp(`CN=${DEMO_CUSTOMER.commonName}`));
  assert.equal(mine.id, "05", "stored in the first retired slot (82)");
  // ... and in the bank's database.
  const c = bank.customers().find((x) => x.contractNumber === DEMO_CUSTOMER.contractNumber);
  assert.deepEqual(c.certificates.map((x) => [x.serial, x.issuedCount, x.status]), [[page.serial, 1, "active"]]);
  journey.firstSerial = page.serial;
  journey.firstCert = mine.x509;
});

step("3. log on: login page, PIN window, logged on as the customer", async () => {
  await login.goto(`${origin}/`);
  const st = await login.status("valid");
  assert.match(st.text, /専用USBが接続されています。電子証明書の有効期限：\d{4}年\d+月\d+日（あと36[456]日）/);
  await shot(login, "login-ready");
  await login.press("#logon-button");
  const win = await browser.pinWindow();
  await win.waitUntil("PIN field", () => !!document.getElementById("pin"));
  assert.equal(await win.text("#purpose"), "ログオン");
  assert.equal(await win.text("#origin"), origin);
  await win.fill("#pin", PIN);
  await shot(win, "pin-window-logon", PIN_WINDOW_SIZE);
  await win.click("#ok");
  await login.waitPath("/home", 30_000);
  assert.equal(await login.text("#customer-name"), CUSTOMER_NAME);
  assert.equal(await login.text("#contract-number"), DEMO_CUSTOMER.contractNumber);
  assert.equal(await login.text("#common-name"), DEMO_CUSTOMER.commonName);
  assert.equal(normSerial(await login.text("#cert-serial")), journey.firstSerial);
  assert.equal(await login.exists("#renewal-notice"), false);
  await login.status("valid");
  assert.equal((await session(login)).loggedOn, true);
  await shot(login, "home-logged-on");
});

step("4. token pulled while logged on: the page logs off; log-on is refused until it is back", async () => {
  await token.stop();
  await login.waitPath("/", 15_000);
  await login.waitFor("#login-message");
  assert.equal(await login.attr("#login-message", "data-reason"), "token-removed");
  assert.equal(await login.text("#login-message"), "専用USBが取り外されたため、ログオフしました。");
  await login.status("no-token");
  assert.equal((await session(login)).loggedOn, false, "the bank session ended");
  await shot(login, "logged-off-token-removed");
  await login.press("#logon-button");
  await login.waitFor("#logon-error");
  assert.equal(await login.attr("#logon-error", "data-code"), "TOKEN_ABSENT");
  assert.equal(await browser.pinWindowCount(), 0, "no PIN window without the token");
  // The logged-on page is gone for good: /home sends back to the log-on page.
  const probe = await browser.newPage();
  await probe.goto(`${origin}/home`);
  await probe.waitPath("/");
  await probe.close();
  await shot(login, "logon-refused-no-token");
  await token.start();
  await login.status("valid");
});

step("5. wrong PIN twice shows the tries left, then the right PIN logs on; without the host: install guidance", async () => {
  await login.press("#logon-button");
  const win = await browser.pinWindow();
  await typePin(win, "000000");
  await win.waitUntil("tries left 2", () => /あと2回/.test(document.getElementById("error")?.textContent ?? ""));
  assert.match(await win.text("#retries"), /2/);
  await shot(win, "pin-window-wrong-pin", PIN_WINDOW_SIZE);
  await typePin(win, "999999");
  await win.waitUntil("tries left 1", () => /あと1回/.test(document.getElementById("error")?.textContent ?? ""));
  assert.match(await win.text("#retries"), /1/);
  await typePin(win, PIN);
  await login.waitPath("/home", 30_000);
  assert.equal(await login.text("#customer-name"), CUSTOMER_NAME);
  await login.press("#logoff-button");
  await login.waitPath("/");
  assert.equal(await login.attr("#login-message", "data-reason"), "logoff");
  await login.status("valid");

  // The host not installed: the same profile without the host manifest.
  const systemWide = SYSTEM_MANIFESTS[BROWSER].find((f) => fs.existsSync(f));
  if (systemWide) {
    console.log(`# host-not-installed part skipped: ${systemWide} registers the host system-wide`);
    return;
  }
  await browser.close();
  browser = await launch({ withHost: false });
  login = await browser.newPage();
  const t0 = Date.now();
  await login.goto(`${origin}/`);
  const st = await login.status("no-host", 10_000);
  assert.match(st.text, /専用USBの管理ソフトがインストールされていません。/);
  assert.ok(await login.exists("#status-install-link"));
  await login.press("#logon-button");
  await login.waitFor("#logon-error", 10_000);
  assert.equal(await login.attr("#logon-error", "data-code"), "HOST_NOT_INSTALLED");
  assert.ok(Date.now() - t0 < 15_000, "answered promptly, not a hang");
  assert.equal(await browser.pinWindowCount(), 0);
  await shot(login, "login-host-not-installed");
  await login.press("#error-install-link");
  await login.waitPath("/help/install");
  assert.ok(await login.exists("#host"));
  await shot(login, "install-guide");
  await browser.close();
  browser = await launch();
  login = await browser.newPage();
  await login.goto(`${origin}/`);
  await login.status("valid");
});

step("6. renewal: the bank's clock in the window, renewal offered; the old certificate works until the new one is stored", async () => {
  await bank.stop();
  await bank.start({ clockOffsetDays: 0 });
  await login.goto(`${origin}/`);
  const st = await login.status("renewal");
  assert.ok(st.days >= 24 && st.days <= 26, `days left ${st.days}`);
  assert.match(st.text, /更新期間中です。電子証明書を更新してください。/);
  await shot(login, "login-renewal-period");
  await login.press("#logon-button");
  let win = await browser.pinWindow();
  await typePin(win, PIN);
  await login.waitPath("/home", 30_000);
  await login.waitFor("#renewal-notice");
  assert.equal(normSerial(await login.text("#cert-serial")), journey.firstSerial);
  await shot(login, "home-renewal-notice");

  // Renew from the notice's link.
  await login.press("#renewal-notice a");
  await login.waitPath("/acquire");
  await login.fill("#contract-number", DEMO_CUSTOMER.contractNumber);
  await login.fill("#acquire-password", DEMO_CUSTOMER.password);
  await login.click("#get-button");
  await login.waitFor("#save-usb-button");
  assert.equal(await login.attr("#contract-confirmed", "data-eligibility"), "RENEWAL");
  await shot(login, "renewal-save-step");

  // Hold the CSR on its way to the bank: the new key now exists on the token, its certificate not.
  const gate = proxy.hold("/api/csr");
  await login.click("#save-usb-button");
  win = await browser.pinWindow();
  await win.press("#confirm");
  await typePin(win, PIN);
  await withTimeout(gate.arrived, 90_000, "the CSR never reached the bank");
  await login.waitUntil("progress: issue", () => document.getElementById("acquire-progress")?.dataset.step === "issue", null, 5000);
  const held = tokenCertificates();
  assert.deepEqual(held.map((c) => c.serial), [journey.firstSerial], "only the old certificate is on the token");
  assert.equal(bank.customers()[0].certificates.length, 1);

  // Meanwhile, in a second browser profile (another window the customer has open), log on: the
  // old certificate still works. The first browser's extension is busy with the acquisition.
  const second = await launch({ profile: `${BROWSER}-second` });
  try {
    const p = await second.newPage();
    await p.goto(`${origin}/`);
    await p.status("renewal");
    await p.press("#logon-button");
    const w2 = await second.pinWindow();
    await typePin(w2, PIN);
    await p.waitPath("/home", 30_000);
    assert.equal(normSerial(await p.text("#cert-serial")), journey.firstSerial, "logged on with the old certificate");
    await shot(p, "old-certificate-logon-during-renewal");
  } finally {
    await second.close();
  }

  gate.release();
  await login.waitPath("/acquire/complete", 90_000);
  const newSerial = normSerial(await login.text("#cert-serial"));
  assert.notEqual(newSerial, journey.firstSerial);
  assert.equal(await login.text("#cert-ou-2"), "IssuedCount=002");
  await shot(login, "renewal-complete");
  await win.waitFor("#done");
  await closeWindow(win);
  const onToken = tokenCertificates();
  assert.ok(onToken.some((c) => c.serial === newSerial), "the new certificate is on the token");
  const certs = bank.customers()[0].certificates;
  assert.deepEqual(certs.map((x) => [x.serial, x.status]).sort(), [[journey.firstSerial, "active"], [newSerial, "active"]].sort());

  // Log on again: the new certificate, out of the renewal period.
  await login.goto(`${origin}/`);
  await login.status("valid");
  await login.press("#logon-button");
  win = await browser.pinWindow();
  await typePin(win, PIN);
  await login.waitPath("/home", 30_000);
  assert.equal(normSerial(await login.text("#cert-serial")), newSerial);
  assert.equal(await login.exists("#renewal-notice"), false);
  await shot(login, "home-renewed");
  await login.press("#logoff-button");
  await login.waitPath("/");
  journey.newSerial = newSerial;
});

step("7. a page on a non-allow-listed origin gets nothing", async () => {
  const foreign = await browser.newPage();
  await foreign.goto(`${foreignOrigin}/`);
  const st = await foreign.status("origin-not-allowed");
  assert.doesNotMatch(st.text, /有効期限|接続されています/);
  await foreign.press("#logon-button");
  await foreign.waitFor("#logon-error");
  assert.equal(await foreign.attr("#logon-error", "data-code"), "ORIGIN_NOT_ALLOWED");
  await shot(foreign, "foreign-origin");
  // The page library itself, straight: every call refused, no events.
  const r = await foreign.evaluate(async () => {
    const { Kagi } = await import("/static/kagi.js");
    const kagi = await Kagi.connect({ timeoutMs: 3000 });
    window.kagiForeignEvents = [];
    kagi.onTokenChange((e) => window.kagiForeignEvents.push(e));
    const code = (p) => p.then(() => "resolved", (e) => e.code);
    return {
      status: await code(kagi.status()),
      authenticate: await code(kagi.authenticate("A".repeat(43))),
      acquire: await code(kagi.acquireCertificate({ submitCsr: async () => { throw new Error("never"); } })),
    };
  });
  assert.deepEqual(r, { status: "ORIGIN_NOT_ALLOWED", authenticate: "ORIGIN_NOT_ALLOWED", acquire: "ORIGIN_NOT_ALLOWED" });
  assert.equal(await browser.pinWindowCount(), 0, "no PIN window for a foreign origin");
  // Pull and plug the token: the bank's own page sees it, the foreign one does not.
  await token.stop();
  await login.status("no-token");
  await token.start();
  await login.status("valid");
  await sleep(500);
  assert.deepEqual(await foreign.evaluate(() => window.kagiForeignEvents), []);
  assert.equal(await foreign.attr("#kagi-token-status", "data-state"), "origin-not-allowed");
  await foreign.close();
});
