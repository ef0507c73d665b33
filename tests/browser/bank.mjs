// The demo bank for browser journeys: `target/debug/kagi-bank serve` on an ephemeral loopback
// port with its own data directory, behind a pass-through reverse proxy (as in the bank's HTTPS
// deployment, bank/README.md) whose address stays the same when the bank restarts with another
// clock. The proxy forwards every request unchanged; the test can hold one request path (the
// CSR step of an acquisition) until it releases it, and can serve the same pages on a second,
// non-allow-listed origin. Processes are started through the rig and stopped by PID.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { ROOT, spawnTracked, sleep } from "./rig.mjs";
import { withTimeout } from "./drivers/page.mjs";

const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
export const BANK_BIN = path.join(TARGET, "debug/kagi-bank");

export const DEMO_CUSTOMER = {
  contractNumber: "SH001001",
  password: "kagi-demo-1234",
  commonName: "SH001 SH001001 1898",
  name: "かぎ商事株式会社",
};

/** A second customer the journey adds (`addCustomer`) for two certificates of the same bank. */
export const SECOND_CUSTOMER = {
  contractNumber: "SH001002",
  password: "kagi-demo-5678",
  commonName: "SH001 SH001002 1898",
  name: "かぎ物産株式会社",
};

export class DemoBank {
  /** `origins`: the public origins login tokens are signed for (the proxy's). */
  constructor(dataDir, origins, log) {
    this.dataDir = dataDir;
    this.origins = origins;
    this.log = log;
    this.child = null;
    this.port = null;
  }

  async start({ clockOffsetDays = 0 } = {}) {
    // Demo mode: the demo customer is seeded, and the clock may be moved (renewal steps).
    const args = ["serve", "--demo", "--port", "0", "--data-dir", this.dataDir, "--clock-offset-days", String(clockOffsetDays)];
    for (const o of this.origins) args.push("--origin", o);
    const out = fs.openSync(this.log, "a");
    const child = spawnTracked(BANK_BIN, args, { stdio: ["ignore", "pipe", out] }, "kagi-bank");
    this.child = child;
    let seen = "";
    this.port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kagi-bank did not start (see ${this.log})`)), 15000);
      child.stdout.on("data", (d) => {
        seen += d;
        fs.appendFileSync(this.log, d);
        const m = seen.match(/Listening on 127\.0\.0\.1:(\d+)\n[^]*Kagi demo bank on /);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`kagi-bank exited (${code}); see ${this.log}`));
      });
    });
    // The listener takes a moment after the banner; wait until it answers.
    for (let i = 0; i < 50; i++) {
      if (await getOk(`http://127.0.0.1:${this.port}/static/bank.css`)) break;
      await sleep(100);
    }
    this.clockOffsetDays = clockOffsetDays;
    return this.port;
  }

  async stop() {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await withTimeout(gone, 5000, "kagi-bank did not stop").catch(() => c.kill("SIGKILL"));
  }

  /** The operator adds a customer (`kagi-bank add-customer`; the running bank sees it at once). */
  addCustomer({ contractNumber, commonName, name, password }) {
    execFileSync(BANK_BIN, ["add-customer", "--data-dir", this.dataDir, "--contract-number", contractNumber,
      "--common-name", commonName, "--name", name, "--password", password], { encoding: "utf8" });
  }

  /** The operator's view (`kagi-bank customers`): [{contractNumber, commonName, name, certificates:[{serial, issuedCount, notAfter, status}]}]. */
  customers() {
    const out = execFileSync(BANK_BIN, ["customers", "--data-dir", this.dataDir], { encoding: "utf8" });
    const list = [];
    for (const line of out.split("\n")) {
      if (!line.trim()) continue;
      const f = line.split("\t");
      if (line.startsWith("\t")) {
        list.at(-1).certificates.push({ serial: normSerial(f[1]), issuedCount: Number(f[2].split("=")[1]), notAfter: f[3].replace(/^until /, ""), status: f[4] });
      } else {
        list.push({ contractNumber: f[0], commonName: f[1], name: f[2], certificates: [] });
      }
    }
    return list;
  }
}

function getOk(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => { res.resume(); resolve(res.statusCode === 200); }).on("error", () => resolve(false));
  });
}

/** Lower-case hex without separators. */
export function normSerial(s) {
  return String(s).replace(/[^0-9a-fA-F]/g, "").toLowerCase().replace(/^0+(?=.)/, "");
}

/**
 * A reverse proxy in front of the bank on `hosts` (same port on each). `target()` gives the
 * bank's current port. `hold(pathname)` makes the next request to that path wait: it returns
 * `{ arrived, release }` (`arrived` resolves when the request came in).
 */
export class BankProxy {
  constructor(target) {
    this.target = target;
    this.servers = [];
    this.gates = new Map();
    this.port = 0;
  }

  async listen(hosts) {
    for (const host of hosts) {
      const server = http.createServer((req, res) => this.handle(req, res));
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.port, host, resolve);
      });
      this.port = server.address().port;
      this.servers.push(server);
    }
    return this.port;
  }

  hold(pathname) {
    let arrived, release;
    const gate = {
      arrived: new Promise((r) => (arrived = r)),
      released: new Promise((r) => (release = r)),
    };
    gate.onArrive = arrived;
    this.gates.set(pathname, gate);
    return { arrived: gate.arrived, release: () => release() };
  }

  async handle(req, res) {
    const body = [];
    for await (const chunk of req) body.push(chunk);
    const pathname = new URL(req.url, "http://x").pathname;
    const gate = this.gates.get(pathname);
    if (gate) {
      this.gates.delete(pathname);
      gate.onArrive();
      await gate.released;
    }
    const up = http.request({ host: "127.0.0.1", port: this.target(), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`bank unreachable: ${e.message}`);
    });
    up.end(Buffer.concat(body));
  }

  close() {
    for (const s of this.servers) {
      s.closeAllConnections?.();
      s.close();
    }
    this.servers = [];
  }
}
