// Enterprise deployment in Firefox ESR: /etc/firefox/policies/policies.json (built from
// manifests/firefox/policies.json; the system-wide policy file Firefox reads on Linux, Debian's
// firefox-esr included) force-installs the release build (build/extension, zipped as an XPI) from
// a localhost install_url and sets allowedOrigins through `3rdparty.Extensions` managed storage;
// the native host is found through the system manifest `kagi-host install --scope system
// --browser firefox` writes (/usr/lib/mozilla/native-messaging-hosts/). Run by
// scripts/test.d/51-policy-firefox.sh (root: it writes under /etc and /usr/lib and removes what it
// wrote); not picked up by `node --test tests/browser/`.
//
// Test only: the XPI is not signed by Mozilla, so the profile sets xpinstall.signatures.required
// to false (honoured by ESR, not by release Firefox; a real deployment hosts an AMO-signed XPI).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { ROOT, HOST_BIN, RELEASE_EXTENSION_DIR, VToken, startRig, makeCa, serve, sleep, stopAll, takeSystemLock, tempDir, waitFor } from "./rig.mjs";
import { EXTENSION_UUID, FIREFOX_BIN, GECKO_ID } from "./drivers/firefox.mjs";
import { withTimeout } from "./drivers/page.mjs";

const POLICY_FILE = "/etc/firefox/policies/policies.json";
const SYSTEM_MANIFEST = "/usr/lib/mozilla/native-messaging-hosts/jp.kagi.host.json";
const USER_MANIFEST_DIR = ".mozilla/native-messaging-hosts";
const createdDirs = [];
/** The test CA (PEM): issuers for the acquisition that opens Kagi's window. */
let CA;
let tmp, xpiServer, bankServer, loopbackServer, browser, token, bankA, bankB, loopback, wroteManifest = false;

before(async () => {
  for (const f of [path.join(RELEASE_EXTENSION_DIR, "manifest.json"), HOST_BIN, FIREFOX_BIN]) assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host`);
  tmp = tempDir();
  await takeSystemLock("exclusive");
  assert.ok(!fs.existsSync(POLICY_FILE), `${POLICY_FILE} exists already: not overwriting it`);
  assert.ok(!fs.existsSync(SYSTEM_MANIFEST), `${SYSTEM_MANIFEST} exists already (installed package?): not overwriting it`);
  await startRig();
  // A token, so that a bank page can open Kagi's window (an extension page: Firefox lets the
  // driver reach the options page only through one).
  token = new VToken(path.join(tmp, "token.json"));
  await token.start();
  await makeCa(tmp);
  CA = fs.readFileSync(path.join(tmp, "ca.pem"), "utf8");

  // The system-wide native host registration, exactly as an administrator makes it.
  execFileSync(HOST_BIN, ["install", "--scope", "system", "--browser", "firefox"], { stdio: "inherit" });
  wroteManifest = true;
  assert.ok(fs.existsSync(SYSTEM_MANIFEST), `kagi-host install did not write ${SYSTEM_MANIFEST}`);

  // The release build as an XPI (a zip with manifest.json at its root).
  const xpi = path.join(tmp, "kagi.xpi");
  execFileSync("zip", ["-qr", xpi, "."], { cwd: RELEASE_EXTENSION_DIR });
  const xpiBytes = fs.readFileSync(xpi);
  xpiServer = http.createServer((req, res) => {
    if (req.url === "/kagi.xpi") res.writeHead(200, { "content-type": "application/x-xpinstall" }).end(xpiBytes);
    else res.writeHead(404).end();
  });
  await new Promise((r) => xpiServer.listen(0, "127.0.0.1", r));

  // Two bank origins over HTTPS (the extension serves https origins only, besides loopback).
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", path.join(tmp, "tls.key"), "-out", path.join(tmp, "tls.pem"), "-days", "2",
    "-subj", "/CN=bank-a.test", "-addext", "subjectAltName=DNS:bank-a.test,DNS:bank-b.test"], { stdio: "ignore" });
  const kagiJs = fs.readFileSync(path.join(ROOT, "extension/page/kagi.js"));
  const page = fs.readFileSync(path.join(ROOT, "tests/browser/page.html"));
  bankServer = https.createServer({ key: fs.readFileSync(path.join(tmp, "tls.key")), cert: fs.readFileSync(path.join(tmp, "tls.pem")) }, (req, res) => {
    if (req.url === "/static/kagi.js") res.writeHead(200, { "content-type": "text/javascript" }).end(kagiJs);
    else if (req.url === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise((r) => bankServer.listen(0, "127.0.0.1", r));
  const bankPort = bankServer.address().port;
  bankA = `https://bank-a.test:${bankPort}`;
  bankB = `https://bank-b.test:${bankPort}`;
  // A local web UI on a loopback port: the release build has no built-in origin.
  loopbackServer = await serve("127.0.0.1", 0);
  loopback = `http://127.0.0.1:${loopbackServer.address().port}`;

  // The deployment template, pointed at the local XPI and bank.
  const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "manifests/firefox/policies.json"), "utf8"));
  policy.policies.ExtensionSettings[GECKO_ID].install_url = `http://127.0.0.1:${xpiServer.address().port}/kagi.xpi`;
  policy.policies["3rdparty"].Extensions[GECKO_ID].allowedOrigins = [bankA];
  for (let d = path.dirname(POLICY_FILE); !fs.existsSync(d); d = path.dirname(d)) createdDirs.unshift(d);
  for (const d of createdDirs) fs.mkdirSync(d);
  fs.writeFileSync(POLICY_FILE, JSON.stringify(policy, null, 2));

  const home = path.join(tmp, "home");
  fs.mkdirSync(home, { recursive: true });
  browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX_BIN,
    headless: true,
    acceptInsecureCerts: true,
    userDataDir: path.join(tmp, "profile"),
    env: { ...process.env, HOME: home, KAGI_LOG_FILE: path.join(tmp, "host.log") },
    extraPrefsFirefox: {
      "xpinstall.signatures.required": false,
      "extensions.webextensions.uuids": JSON.stringify({ [GECKO_ID]: EXTENSION_UUID }),
      "network.dns.localDomains": "bank-a.test,bank-b.test",
      "intl.accept_languages": "ja,en",
    },
  });
});

after(async () => {
  if (browser) {
    const proc = browser.process();
    await withTimeout(browser.close(), 10000, "close timed out").catch(() => {});
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  }
  xpiServer?.close();
  bankServer?.close();
  loopbackServer?.close();
  fs.rmSync(POLICY_FILE, { force: true });
  for (const d of [...createdDirs].reverse()) {
    try { fs.rmdirSync(d); } catch { /* not empty: someone else's files arrived meanwhile */ }
  }
  if (wroteManifest) {
    try {
      execFileSync(HOST_BIN, ["uninstall", "--scope", "system", "--browser", "firefox"], { stdio: "inherit" });
    } catch (e) {
      console.error(`uninstall failed: ${e}`);
    }
  }
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const ev = (p, fn, arg) => withTimeout(p.evaluate(fn, arg), 10000, "evaluate timed out");

async function openBank(origin) {
  const p = await browser.newPage();
  await p.goto(`${origin}/`);
  await waitFor(`test page on ${origin}`, () => ev(p, () => !!(window.kagiTest && window.kagiTest.ready)).catch(() => false));
  return p;
}

/** The page's status through Kagi, retried while the force-installed add-on starts. */
async function status(p, want) {
  let last;
  try {
    return await waitFor(`status ${want} on ${p.url()}`, async () => {
      last = await ev(p, () => window.kagiTest.run((k) => k.status()));
      return want(last) ? last : (await sleep(500), null);
    }, 30000);
  } catch {
    return last;
  }
}

/** An extension page: the bank page asks for an acquisition, Kagi's window opens, and opens `file`. */
async function extensionPage(file) {
  const bank = await openBank(bankA);
  await ev(bank, (ca) => { window.kagiTest.run((k) => k.acquireCertificate({ issuers: ca, submitCsr: window.kagiTest.submitCsr })); }, CA);
  const pinUrl = `moz-extension://${EXTENSION_UUID}/pin.html`;
  const href = (p) => withTimeout(p.evaluate(() => location.href), 2000, "no answer").catch(() => null);
  const find = (prefix) => waitFor(`a page at ${prefix}`, async () => {
    for (const p of await browser.pages()) if ((await href(p))?.startsWith(prefix)) return p;
    return null;
  }, 20000);
  const win = await find(pinUrl);
  const url = `moz-extension://${EXTENSION_UUID}/${file}`;
  await ev(win, (u) => { chrome.tabs.create({ url: u }); }, url);
  const page = await find(url);
  await win.close().catch(() => {});
  await bank.close();
  return page;
}

test("the add-on was force-installed by the policy file, from its install_url", async () => {
  // This suite never installs the add-on itself: if it answers, the policy installed it.
  const r = await status(await openBank(bankA), (x) => x?.ok?.host === "ok");
  assert.equal(r?.ok?.host, "ok", `the force-installed add-on does not answer on the policy's origin: ${JSON.stringify(r)}`);
  const o = await extensionPage("options.html");
  const self = await ev(o, () => chrome.management.getSelf());
  await o.close();
  // "admin": installed by enterprise policy (not "development", a temporary add-on).
  assert.equal(self.installType, "admin", JSON.stringify(self));
  assert.equal(self.id, GECKO_ID);
  assert.equal(self.version, JSON.parse(fs.readFileSync(path.join(RELEASE_EXTENSION_DIR, "manifest.json"), "utf8")).version);
});

test("allowedOrigins and the bank's settings arrive through managed storage; the options page says so", async () => {
  const o = await extensionPage("options.html");
  const managed = await ev(o, () => chrome.storage.managed.get(null));
  assert.deepEqual(managed.allowedOrigins, [bankA]);
  assert.equal(managed.defaultLanguage, "ja");
  assert.equal(managed.bankName, "しんきん銀行");
  await waitFor("managed origins on the options page", () => ev(o, () => document.querySelectorAll("li.managed").length > 0), 15000);
  assert.deepEqual(await ev(o, () => [...document.querySelectorAll("li.managed")].map((e) => e.textContent)), [bankA]);
  assert.equal(await ev(o, () => !!document.querySelector("#new-origin")), false, "customers cannot add origins when managed");
  await o.close();
});

test("the policy's origin is served, and the host is found through the system manifest", async () => {
  assert.ok(!fs.existsSync(path.join(tmp, "home", USER_MANIFEST_DIR)), "a user manifest exists: the system one would not be tested");
  const p = await openBank(bankA);
  const r = await status(p, (x) => x?.ok?.host === "ok");
  assert.equal(r?.ok?.host, "ok", `system manifest not used: ${JSON.stringify(r)}`);
  assert.ok(r.ok.readers.some((x) => x.tokenPresent), JSON.stringify(r.ok.readers));
  await p.close();
});

test("another origin, and a loopback page, get the silence of a browser without Kagi", async () => {
  for (const o of [bankB, loopback]) {
    const p = await openBank(o);
    const r = await ev(p, () => window.kagiTest.run((k) => k.status()));
    assert.equal(r.error?.code, "EXTENSION_NOT_INSTALLED", `${o}: ${JSON.stringify(r)}`);
    const seen = await ev(p, () => window.kagiTest.seen.messages.filter((m) => m.includes("kagi:ext")));
    assert.deepEqual(seen, [], o);
    await p.close();
  }
});
