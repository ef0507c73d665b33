// Test rig for the browser tests: the rig of the Rust tests (`kagi-rig`, tests/rig: a private
// pcscd with its own vpcd ports, virtual tokens, host registration through `kagi-host install`,
// the test CA), test web servers, and a Chromium with the unpacked extension and the real native
// host. Everything started here is stopped by PID.
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EXTENSION_ID = "gpkpgcigbjckfepkdcenjinhhjllfgac";
/** The development build (`scripts/build-extension.sh --dev`: http://localhost and http://127.0.0.1 built in). */
export const EXTENSION_DIR = path.join(ROOT, "build/extension-dev");
/** The release build (`scripts/build-extension.sh`: no built-in origin). */
export const RELEASE_EXTENSION_DIR = path.join(ROOT, "build/extension");
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
export const HOST_BIN = path.join(TARGET, "debug/kagi-host");
export const VTOKEN_BIN = path.join(TARGET, "debug/kagi-vtoken");
/** The rig's command (`cargo build -p kagi-rig`; tests/rig/src/bin/kagi-rig.rs). */
export const RIG_BIN = path.join(TARGET, "debug/kagi-rig");
/** Taken shared by the browser tests and exclusively by the suites that write the machine's
 * browser configuration (policies, system-wide host manifests), which every browser reads. */
const SYSTEM_LOCK = process.env.KAGI_RIG_LOCK || "/tmp/kagi-rig.lock";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Processes we started, stopped in reverse order. */
const started = [];
function track(child, name) {
  child.kagiName = name;
  started.push(child);
  return child;
}

export async function stopAll() {
  while (started.length) {
    const c = started.pop();
    // Our ends of its pipes: the lock's `cat` (a grandchild) holds them open until its stdin
    // closes, and open pipes keep this process alive long after the tests end.
    c.stdin?.end();
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      let timer;
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);   // a pending timer would keep the test process alive
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    c.stdout?.destroy();
    c.stderr?.destroy();
  }
  // The rig last: the browsers and hosts above were its clients.
  if (rigInfo) {
    const dir = rigInfo.dir;
    rigInfo = null;
    await rigCommand(["down", "--dir", dir]).catch((e) => console.error(`kagi-rig down: ${e.message}`));
  }
}

/** Spawns a process that `stopAll` stops (by PID, in reverse start order). */
export function spawnTracked(cmd, args, opts, name = path.basename(cmd)) {
  return track(spawn(cmd, args, opts), name);
}

/**
 * Takes the lock on the machine's browser configuration for the life of this process:
 * `shared` for a test that launches browsers (a policy file or a system-wide host manifest
 * written meanwhile would change what they do), `exclusive` for one that writes them.
 * PC/SC needs no lock: every test process has its own pcscd (`startRig`).
 */
export async function takeSystemLock(mode = "shared") {
  const flag = mode === "exclusive" ? "-x" : "-s";
  const c = track(spawn("flock", [flag, SYSTEM_LOCK, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "inherit"] }), "flock");
  await new Promise((resolve, reject) => {
    c.stdout.once("data", resolve);
    c.once("exit", () => reject(new Error("flock exited")));
  });
  return c;
}

const execFileAsync = promisify(execFile);

/** Runs `kagi-rig` with `args`; its JSON answer (or text, for `ca issue`). */
export async function rigCommand(args, { input } = {}) {
  const run = execFileAsync(RIG_BIN, args, { encoding: "utf8", maxBuffer: 16 << 20 });
  if (input !== undefined) {
    run.child.stdin.end(input);
  }
  const { stdout } = await run.catch((e) => {
    throw new Error(`kagi-rig ${args.join(" ")}: ${e.stderr || e.message}`);
  });
  const text = stdout.trim();
  return text.startsWith("{") ? JSON.parse(text) : text;
}

let rigInfo = null;

/**
 * This test process's PC/SC stack: `kagi-rig up` starts a pcscd of its own on a private socket
 * with its own vpcd ports (stopped by `stopAll`, or by itself when this process is gone). Its
 * `PCSCLITE_CSOCK_NAME` goes into this process's environment, so every browser launched
 * afterwards hands it to the host it starts, and OpenSC run from here finds it too.
 */
export async function startRig() {
  if (rigInfo) return rigInfo;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kagi-browser-rig-"));
  rigInfo = await rigCommand(["up", "--dir", dir, "--owner-pid", String(process.pid)]);
  Object.assign(process.env, rigInfo.env);
  return rigInfo;
}

function rigDir() {
  if (!rigInfo) throw new Error("the rig is not up: call startRig() first");
  return rigInfo.dir;
}

/** vpcd's two readers. */
export const READERS = ["Virtual PCD 00 00", "Virtual PCD 00 01"];

/**
 * A virtual PIV token in vpcd reader `reader` (0 or 1) of this process's rig; `stop()` pulls
 * it, `start()` plugs it in again (same state), each waiting until pcscd reports it. A new
 * token has PIN 123456 and PUK 12345678.
 */
export class VToken {
  constructor(stateFile, { reader = 0 } = {}) {
    this.stateFile = stateFile;
    this.reader = reader;
    this.readerName = READERS[reader];
    this.plugged = false;
  }
  async start() {
    await rigCommand(["token", "plug", "--dir", rigDir(), "--reader", String(this.reader), "--state", this.stateFile]);
    this.plugged = true;
  }
  async stop() {
    if (!this.plugged) return;
    this.plugged = false;
    await rigCommand(["token", "pull", "--dir", rigDir(), "--reader", String(this.reader)]);
  }
}

/**
 * Registers the native host (`hostPath`) for a browser user through `kagi-host install --scope
 * user` (`kagi-rig register`), or with `remove` takes it away through `kagi-host uninstall`.
 * Chromium: `home` is the user's home, whose `.config/chromium` is the profile to launch.
 */
export async function registerHost(browser, home, { hostPath = HOST_BIN, remove = false } = {}) {
  const args = ["register", "--browser", browser, "--home", home, "--host", hostPath];
  if (remove) args.push("--remove");
  return rigCommand(args);
}

/** The one test CA (`kagi-rig ca new`) in `dir`: ca.pem, ca.der, and its key. */
export async function makeCa(dir) {
  return rigCommand(["ca", "new", "--dir", dir]);
}

/** Serves the test pages, kagi.js and a tiny CA (openssl) on `host`:`port` (0 = any). */
export function serve(host, port, caDir) {
  const kagiJs = fs.readFileSync(path.join(ROOT, "extension/page/kagi.js"));
  const page = fs.readFileSync(path.join(ROOT, "tests/browser/page.html"));
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/static/kagi.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(kagiJs);
    } else if (req.method === "GET" && req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    } else if (req.method === "POST" && req.url === "/ca" && caDir) {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        issue(caDir, body.trim()).then(
          (cert) => res.writeHead(200, { "content-type": "text/plain" }).end(cert),
          (e) => res.writeHead(500).end(String(e)));
      });
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

/** The serial number the test CA gives the certificates `serve` issues (tests look for it). */
export const TEST_SERIAL = "6d89a42202c56aafed5e6c8de3277d8c";

/** Issues a certificate for a CSR (base64 DER) with the test CA in `dir`: base64 DER. */
function issue(dir, csrB64) {
  return rigCommand(["ca", "issue", "--dir", dir, "--serial", TEST_SERIAL], { input: csrB64 });
}

/**
 * Chromium with the unpacked extension; the native host registered for the profile's user
 * through `kagi-host install` (`registerHost`). `profile`: the user's home under `tmp`, whose
 * `.config/chromium` is the user-data-dir (reused across launches: `withHost: false` uninstalls
 * the host from it); `viewport`: page size (Playwright's default 1280×720); `extensionDir`:
 * which build (default the development build); `hostPath`: the program the host manifest names
 * (default the real host).
 */
export async function launchBrowser(tmp, { withHost = true, profile, headless = true, viewport, extensionDir = EXTENSION_DIR, hostPath = HOST_BIN } = {}) {
  const home = path.join(tmp, profile ?? (withHost ? "profile" : "profile-nohost"));
  const { userDataDir } = await registerHost("chromium", home, { hostPath, remove: !withHost });
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless,
    ...(viewport ? { viewport } : {}),
    ignoreDefaultArgs: ["--disable-extensions"],
    env: { ...process.env, HOME: home, KAGI_LOG_FILE: path.join(tmp, "host.log") },
    args: [
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
    ],
  });
}

export function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "kagi-browser-"));
}

/**
 * A native host that records what the browser sends it (to `log`) and passes it on to the real
 * host: tests check that an origin Kagi does not serve never reaches the host.
 */
export function recordingHost(dir, log) {
  const file = path.join(dir, "recording-host.sh");
  fs.writeFileSync(file, `#!/bin/sh\ntee -a '${log}' | '${HOST_BIN}' "$@"\n`, { mode: 0o755 });
  return file;
}

/** Runs `expression` in the content script's isolated world of `page` (CDP); returns its value. */
export async function inContentScript(ctx, page, expression) {
  const cdp = await ctx.newCDPSession(page);
  const worlds = [];
  cdp.on("Runtime.executionContextCreated", (e) => worlds.push(e.context));
  await cdp.send("Runtime.enable");
  const world = await waitFor("the content script's world", async () =>
    worlds.find((c) => c.auxData?.type === "isolated" && c.origin?.startsWith("chrome-extension://")) ??
    worlds.find((c) => c.auxData?.type === "isolated"), 5000);
  const r = await cdp.send("Runtime.evaluate", { expression, contextId: world.id, awaitPromise: true, returnByValue: true });
  await cdp.detach();
  if (r.exceptionDetails) throw new Error(`in the content script: ${JSON.stringify(r.exceptionDetails)}`);
  return r.result.value;
}

/** axe-core's script, injected into pages by the drivers' evaluate, which the extension pages'
 * CSP (script-src 'self') does not restrict. */
export const AXE_SOURCE = fs.readFileSync(path.join(ROOT, "tests/browser/node_modules/axe-core/axe.min.js"), "utf8");

/** Runs in the page once axe is there: WCAG 2.x A and AA rules, every violation in short. */
export async function axeRunInPage() {
  const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } });
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
}

/** The serious and critical ones of `axeRunInPage`'s answer, as readable lines. */
export function seriousViolations(found) {
  return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id} (${v.impact}): ${v.nodes.join(" | ")}`);
}

/** axe-core on a Playwright `page` as it is now: its serious and critical violations. */
export async function axeViolations(page) {
  await page.evaluate(`${AXE_SOURCE}\n;true`);
  return seriousViolations(await page.evaluate(axeRunInPage));
}
