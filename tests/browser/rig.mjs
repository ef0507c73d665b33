// Test rig for the browser tests: rig lock, pcscd, the virtual token, test web servers, and a
// Chromium with the unpacked extension and the real native host. Everything started here is
// stopped by PID.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
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
const PCSCD_SOCKET = "/run/pcscd/pcscd.comm";
const LOCK = process.env.KAGI_RIG_LOCK || "/tmp/kagi-rig.lock";

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
    // Our ends of its pipes: the rig lock's `cat` (a grandchild) holds them open until its stdin
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
}

/** Spawns a process that `stopAll` stops (by PID, in reverse start order). */
export function spawnTracked(cmd, args, opts, name = path.basename(cmd)) {
  return track(spawn(cmd, args, opts), name);
}

/** Takes the rig lock (shared with the Rust suites) for the life of this process. */
export async function takeRigLock() {
  const c = track(spawn("flock", [LOCK, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "inherit"] }), "flock");
  await new Promise((resolve, reject) => {
    c.stdout.once("data", resolve);
    c.once("exit", () => reject(new Error("flock exited")));
  });
  return c;
}

function cardPresent(reader = "Virtual PCD 00 00") {
  try {
    const out = execFileSync("opensc-tool", ["-l"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return out.split("\n").some((l) => l.includes(reader) && /\bYes\b/.test(l));
  } catch {
    return false;
  }
}

function pcscdRunning() {
  if (!fs.existsSync(PCSCD_SOCKET)) return false;
  try {
    process.kill(parseInt(fs.readFileSync("/run/pcscd/pcscd.pid", "utf8"), 10), 0);   // the file ends in "\n\0"
    return true;
  } catch {
    return false;   // a socket left behind by a pcscd that was killed
  }
}

/** Starts pcscd unless one is already serving (scripts/test.sh normally has). */
export async function ensurePcscd() {
  if (pcscdRunning()) return;
  fs.rmSync(PCSCD_SOCKET, { force: true });
  fs.rmSync("/run/pcscd/pcscd.pid", { force: true });
  fs.mkdirSync("/run/pcscd", { recursive: true });
  track(spawn("pcscd", ["--foreground", "--error"], { stdio: "ignore" }), "pcscd");
  await waitFor("pcscd socket", () => fs.existsSync(PCSCD_SOCKET));
  await sleep(500);
}

/** vpcd's two readers. */
export const READERS = ["Virtual PCD 00 00", "Virtual PCD 00 01"];

/**
 * A virtual PIV token in vpcd reader `reader` (0 or 1); `stop()` pulls it, `start()` plugs it
 * in again (same state). A new token has PIN 123456 and PUK 12345678.
 */
export class VToken {
  constructor(stateFile, { reader = 0 } = {}) {
    this.stateFile = stateFile;
    this.reader = reader;
    this.readerName = READERS[reader];
    this.child = null;
  }
  async start() {
    this.child = track(spawn(VTOKEN_BIN, ["--reader", String(this.reader), "--state", this.stateFile, "--exit-on-stdin-eof"], { stdio: ["pipe", "ignore", "ignore"] }), "vtoken");
    await waitFor("virtual token inserted", () => cardPresent(this.readerName));
  }
  async stop() {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await gone;
    await waitFor("virtual token removed", () => !cardPresent(this.readerName));
  }
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
        try {
          res.writeHead(200, { "content-type": "text/plain" }).end(issue(caDir, body.trim()));
        } catch (e) {
          res.writeHead(500).end(String(e));
        }
      });
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

/** Makes a P-256 test CA in `dir`. */
export function makeCa(dir) {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", path.join(dir, "ca.key"), "-out", path.join(dir, "ca.pem"), "-days", "30",
    "-subj", "/C=JP/O=Kagi Test Shinkin Bank/CN=Kagi Test CA"], { stdio: "ignore" });
}

/** Signs a CSR (base64 DER) with the test CA; returns the certificate as base64 DER. */
function issue(dir, csrB64) {
  const csr = path.join(dir, "req.der");
  const cert = path.join(dir, "cert.der");
  fs.writeFileSync(csr, Buffer.from(csrB64, "base64"));
  execFileSync("openssl", ["x509", "-req", "-inform", "DER", "-in", csr, "-CA", path.join(dir, "ca.pem"),
    "-CAkey", path.join(dir, "ca.key"), "-days", "365", "-set_serial", "0x6d89a42202c56aafed5e6c8de3277d8c",
    "-outform", "DER", "-out", cert], { stdio: "ignore" });
  return fs.readFileSync(cert).toString("base64");
}

/**
 * Chromium with the unpacked extension; the native host registered in its own profile.
 * `profile`: the user-data-dir's name under `tmp` (reused across launches: `withHost: false`
 * removes the host manifest from it); `viewport`: page size (Playwright's default 1280×720);
 * `extensionDir`: which build (default the development build); `hostPath`: the program the
 * host manifest names (default the real host).
 */
export async function launchBrowser(tmp, { withHost = true, profile, headless = true, viewport, extensionDir = EXTENSION_DIR, hostPath = HOST_BIN } = {}) {
  const userDataDir = path.join(tmp, profile ?? (withHost ? "profile" : "profile-nohost"));
  const manifest = path.join(userDataDir, "NativeMessagingHosts/jp.kagi.host.json");
  fs.mkdirSync(path.dirname(manifest), { recursive: true });
  if (withHost) {
    fs.writeFileSync(manifest, JSON.stringify({
      name: "jp.kagi.host",
      description: "Kagi native host (test)",
      path: hostPath,
      type: "stdio",
      allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
    }));
  } else {
    fs.rmSync(manifest, { force: true });
  }
  const home = path.join(tmp, "home");
  fs.mkdirSync(home, { recursive: true });
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
