// The packed @kagi/kagi-js as an integrator's code imports it, in node (no browser): run by
// scripts/test.d/25-kagi-js.sh from a project that installed the `npm pack` tarball. A small
// stand-in for the extension's content script answers on a window-like object, so that
// connect(), status() and the library's own errors run for real.
//
//   node import-packed.mjs <expected version>
import assert from "node:assert/strict";
import * as mod from "@kagi/kagi-js";
import pkg from "@kagi/kagi-js/package.json" with { type: "json" };

const [expected] = process.argv.slice(2);
const { Kagi, KagiError, VERSION } = mod;
let passed = 0;
const ok = (what) => { passed += 1; console.log(`ok: ${what}`); };

assert.equal(typeof Kagi.connect, "function");
assert.equal(mod.default, Kagi, "the default export is Kagi");
ok("the package name resolves to the ES module (Kagi, KagiError, VERSION, default export)");

assert.equal(VERSION, expected);
assert.equal(pkg.version, expected);
ok(`VERSION and package.json say ${expected}, the workspace's version`);

const e = new KagiError("PIN_INCORRECT", "PIN incorrect", 2);
assert.ok(e instanceof Error);
assert.deepEqual([e.name, e.code, e.retries], ["KagiError", "PIN_INCORRECT", 2]);
ok("KagiError carries code and retries");

await assert.rejects(Kagi.connect({ lang: "fr" }), (err) => err.code === "BAD_REQUEST");
ok("a lang other than ja or en is refused (BAD_REQUEST)");

// A window as a page has it, and the extension's content script on it.
const listeners = new Set();
const window = {
  location: { origin: "https://bank.example" },
  addEventListener: (type, fn) => type === "message" && listeners.add(fn),
  removeEventListener: (type, fn) => listeners.delete(fn),
  postMessage(data) {
    setTimeout(() => { for (const fn of [...listeners]) fn({ source: window, data }); }, 0);
    if (extensionPresent && data.channel === "kagi:page") extension(data);
  },
};
let extensionPresent = false;
function extension(m) {
  const reply = (msg) => window.postMessage({ channel: "kagi:ext", ...msg });
  if (m.type === "hello") reply({ type: "hello", nonce: m.nonce, version: "9.8.7" });
  if (m.type === "request" && m.cmd === "status") {
    reply({ type: "reply", id: m.id, result: { host: "ok", hostVersion: "1.2.3", readers: [], tokens: [], token: null } });
  }
}
globalThis.window = window;

// No extension: the library's own error, in the language asked for.
for (const [lang, text] of [["ja", "Kagi の拡張機能が応答しませんでした。"], ["en", "the Kagi extension did not answer"]]) {
  await assert.rejects(Kagi.connect({ timeoutMs: 100, lang }), (err) => err.code === "EXTENSION_NOT_INSTALLED" && err.message === text);
}
ok("without the extension: EXTENSION_NOT_INSTALLED, its message in the lang asked for");

extensionPresent = true;
const kagi = await Kagi.connect({ timeoutMs: 2000, lang: "en" });
assert.deepEqual([kagi.extensionVersion, kagi.lang], ["9.8.7", "en"]);
const st = await kagi.status();
assert.deepEqual(st.versions, { library: expected, extension: "9.8.7", host: "1.2.3" });
assert.equal(st.host, "ok");
kagi.close();
ok("status() reports the library's, the extension's and the host's versions");

console.log(`passed ${passed}`);
