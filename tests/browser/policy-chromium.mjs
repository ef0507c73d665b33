// Enterprise deployment in a real browser: headless Chromium with a managed policy file in
// /etc/chromium/policies/managed/ (built from manifests/chrome/kagi.json) force-installs the
// release build (build/extension, packed here into a CRX with the test signing key, which
// keeps the extension id; releases are signed with KAGI_SIGNING_KEY) from a localhost update
// URL (no --load-extension), sets allowedOrigins through
// 3rdparty managed storage, and finds the native host through the system-wide manifest that
// `kagi-host install --scope system` wrote. Run by scripts/test.d/50-policy-chromium.sh (root:
// it writes under /etc and removes what it wrote); not picked up by `node --test tests/browser/`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, EXTENSION_ID, HOST_BIN, RELEASE_EXTENSION_DIR, startRig, serve, sleep, stopAll, takeSystemLock, tempDir, waitFor } from "./rig.mjs";

const TEST_SIGNING_KEY = path.join(ROOT, "tests/fixtures/test-only-extension-signing-key.pem");
const POLICY_FILE = "/etc/chromium/policies/managed/kagi-test.json";
const SYSTEM_MANIFEST = "/etc/chromium/native-messaging-hosts/jp.kagi.host.json";
const createdDirs = [];
let tmp, updateServer, bankServer, loopbackServer, ctx, installed, extPage, bankA, bankB, loopback, wroteManifest = false;

/** Packs the release build with the test key (chromium writes <dir>.crx next to the directory). */
function packTestCrx(dir) {
  const ext = path.join(dir, "extension");
  fs.cpSync(RELEASE_EXTENSION_DIR, ext, { recursive: true });
  execFileSync("chromium", ["--headless", "--no-sandbox", "--disable-gpu", `--user-data-dir=${path.join(dir, "pack-profile")}`,
    `--pack-extension=${ext}`, `--pack-extension-key=${TEST_SIGNING_KEY}`], { stdio: "ignore", env: { ...process.env, HOME: dir } });
  assert.ok(fs.existsSync(`${ext}.crx`), "chromium did not pack the CRX");
  return `${ext}.crx`;
}

before(async () => {
  for (const f of [path.join(RELEASE_EXTENSION_DIR, "manifest.json"), HOST_BIN]) assert.ok(fs.existsSync(f), `${f} is missing: run scripts/build-extension.sh and cargo build -p kagi-host`);
  tmp = tempDir();
  const CRX = packTestCrx(tmp);
  await takeSystemLock("exclusive");
  assert.ok(!fs.existsSync(POLICY_FILE), `${POLICY_FILE} exists already: not overwriting it`);
  assert.ok(!fs.existsSync(SYSTEM_MANIFEST), `${SYSTEM_MANIFEST} exists already (installed package?): not overwriting it`);
  await startRig();

  // The system-wide native host registration, exactly as an administrator makes it.
  execFileSync(HOST_BIN, ["install", "--scope", "system", "--browser", "chromium"], { stdio: "inherit" });
  wroteManifest = true;

  // Update server: updates.xml (from the template) and the CRX.
  const version = JSON.parse(fs.readFileSync(path.join(RELEASE_EXTENSION_DIR, "manifest.json"), "utf8")).version;
  const crx = fs.readFileSync(CRX);
  updateServer = http.createServer((req, res) => {
    const port = updateServer.address().port;
    if (req.url.startsWith("/updates.xml")) {
      const xml = fs.readFileSync(path.join(ROOT, "manifests/updates.xml"), "utf8")
        .replace(/codebase="[^"]*"/, `codebase="http://127.0.0.1:${port}/kagi-extension.crx"`)
        .replace(/version="0\.\d+\.\d+"/, `version="${version}"`);
      res.writeHead(200, { "content-type": "application/xml" }).end(xml);
    } else if (req.url === "/kagi-extension.crx") {
      res.writeHead(200, { "content-type": "application/x-chrome-extension" }).end(crx);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => updateServer.listen(0, "127.0.0.1", r));
  const updatePort = updateServer.address().port;

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
  // A local web UI on a loopback port (as any dev server or Docker-published port would be).
  loopbackServer = await serve("127.0.0.1", 0);
  loopback = `http://127.0.0.1:${loopbackServer.address().port}`;

  // The deployment template, pointed at the local update server and bank.
  const policy = JSON.parse(fs.readFileSync(path.join(ROOT, "manifests/chrome/kagi.json"), "utf8"));
  policy.ExtensionSettings[EXTENSION_ID].update_url = `http://127.0.0.1:${updatePort}/updates.xml`;
  policy["3rdparty"].extensions[EXTENSION_ID].allowedOrigins = [bankA];
  // Test only: by default (0) DevTools, and so Playwright, may not attach to force-installed
  // extensions' pages and workers; 1 allows it.
  policy.DeveloperToolsAvailability = 1;
  // Create only the directories that are missing, and remember them to remove afterwards.
  for (let d = path.dirname(POLICY_FILE); !fs.existsSync(d); d = path.dirname(d)) createdDirs.unshift(d);
  for (const d of createdDirs) fs.mkdirSync(d);
  fs.writeFileSync(POLICY_FILE, JSON.stringify(policy, null, 2));

  const home = path.join(tmp, "home");
  fs.mkdirSync(home, { recursive: true });
  ctx = await chromium.launchPersistentContext(path.join(tmp, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    ignoreHTTPSErrors: true,
    // Playwright disables extensions and background networking by default; a force-install
    // needs both (the update check is background networking).
    ignoreDefaultArgs: ["--disable-extensions", "--disable-background-networking", "--disable-component-extensions-with-background-pages"],
    env: { ...process.env, HOME: home, KAGI_LOG_FILE: path.join(tmp, "host.log") },
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
      "--host-resolver-rules=MAP bank-a.test 127.0.0.1, MAP bank-b.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ],
  });
  // The service worker may come and go before Playwright sees it: wait for the browser to
  // report the extension installed, then use an extension page for the extension's APIs.
  const internals = await ctx.newPage();
  installed = await waitFor("force-installed extension", async () => {
    await internals.goto("chrome://extensions-internals");
    const text = await internals.evaluate(() => document.body.innerText);
    try {
      return JSON.parse(text).find((e) => e.id === EXTENSION_ID) || null;
    } catch {
      return null;
    }
  }, 60000);
  await internals.close();
  // Right after a force-install Chromium may still reload the extension, closing its pages:
  // retry until an extension page stays up.
  extPage = await waitFor("an extension page", async () => {
    const p = await ctx.newPage();
    try {
      await p.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
      await p.evaluate(() => chrome.runtime.id);
      return p;
    } catch {
      await p.close().catch(() => {});
      await sleep(500);
      return null;
    }
  }, 30000);
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  updateServer?.close();
  bankServer?.close();
  loopbackServer?.close();
  fs.rmSync(POLICY_FILE, { force: true });
  for (const d of [...createdDirs].reverse()) {
    try { fs.rmdirSync(d); } catch { /* not empty: someone else's files arrived meanwhile */ }
  }
  if (wroteManifest) {
    try {
      execFileSync(HOST_BIN, ["uninstall", "--scope", "system", "--browser", "chromium"], { stdio: "inherit" });
    } catch (e) {
      console.error(`uninstall failed: ${e}`);
    }
  }
  await stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openBank(origin) {
  const p = await ctx.newPage();
  await p.goto(`${origin}/`);
  await p.waitForFunction(() => window.kagiTest && window.kagiTest.ready);
  return p;
}

test("the CRX was force-installed from the update URL", async () => {
  // EXTERNAL_POLICY_DOWNLOAD: installed by policy from an update URL (not --load-extension,
  // which would be COMMAND_LINE / UNPACKED).
  assert.equal(installed.location, "EXTERNAL_POLICY_DOWNLOAD", JSON.stringify(installed));
  assert.equal(installed.registry_status, "ENABLED");
  const version = await extPage.evaluate(() => chrome.runtime.getManifest().version);
  assert.equal(version, JSON.parse(fs.readFileSync(path.join(RELEASE_EXTENSION_DIR, "manifest.json"), "utf8")).version);
  assert.equal(installed.version, version);
});

test("allowedOrigins arrives through managed storage", async () => {
  // Managed storage is empty for a few seconds after a force-install.
  const managed = await waitFor("managed storage", async () => {
    const m = await extPage.evaluate(() => chrome.storage.managed.get(null));
    return m && Array.isArray(m.allowedOrigins) ? m : null;
  }, 30000);
  assert.deepEqual(managed.allowedOrigins, [bankA]);
  assert.equal(managed.defaultLanguage, "ja");
  // The schema lets the bank's name through (a key missing from it would be dropped): the
  // extension's texts say it instead of 「お取引の金融機関」.
  assert.equal(managed.bankName, "しんきん銀行");
});

test("the policy's origin is served, and the host is found through the system manifest", async () => {
  const p = await openBank(bankA);
  const r = await waitFor("status from the host", async () => {
    const x = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
    return x.ok?.host === "ok" ? x : (await sleep(500), null);
  }, 20000).catch(async () => p.evaluate(() => window.kagiTest.run((k) => k.status())));
  assert.equal(r.ok?.host, "ok", `system manifest not used: ${JSON.stringify(r)}`);
  assert.ok(Array.isArray(r.ok.readers));
  await p.close();
});

test("another origin, and a loopback page, get the silence of a browser without Kagi", async () => {
  for (const o of [bankB, loopback]) {
    const p = await openBank(o);
    const r = await p.evaluate(() => window.kagiTest.run((k) => k.status()));
    assert.equal(r.error?.code, "EXTENSION_NOT_INSTALLED", `${o}: ${JSON.stringify(r)}`);
    const seen = await p.evaluate(() => window.kagiTest.seen.messages.filter((m) => m.includes("kagi:ext")));
    assert.deepEqual(seen, [], o);
    await p.close();
  }
});

test("the options page shows the origins as set by the administrator", async () => {
  const p = await ctx.newPage();
  await p.goto(`chrome-extension://${EXTENSION_ID}/options.html`);
  await p.waitForSelector("li.managed");
  assert.deepEqual(await p.locator("li.managed").allTextContents(), [bankA]);
  assert.ok((await p.locator("p.managed").textContent()).length > 0);
  assert.equal(await p.locator("#new-origin").count(), 0, "customers cannot add origins when managed");
  await p.close();
});
