// Kagi content script: relays between the bank page (window.postMessage, see page/kagi.js) and
// the service worker (one runtime port, opened only when the page talks to Kagi). It adds nothing
// to the page and decides nothing itself.
//
// Silent unless allowed (issue 11): it says nothing to the page, not even the hello, until the
// service worker has welcomed its port. The service worker judges the origin from the browser's
// sender record (never from anything the page or this script says) and closes the port of an
// origin it does not serve without a word; then this script drops what the page sent and stays
// silent, so the page cannot tell Kagi from no extension at all (kagi.js ends in
// EXTENSION_NOT_INSTALLED). It asks again on a later page message (at most every
// RETRY_MS): a policy that arrives after the page loaded takes effect without a reload.
(() => {
  // An opaque origin (a document sandboxed by its CSP): never a bank page. The service worker
  // refuses it too where the browser records the origin (Chromium's sender.origin); Firefox
  // records only the URL, so this is the check there.
  if (window.origin === "null") return;
  const api = globalThis.browser ?? globalThis.chrome;
  const FROM_PAGE = "kagi:page";
  const TO_PAGE = "kagi:ext";
  const RETRY_MS = 1000;
  /** The most page messages kept while the service worker is asked (kagi.js sends a few). */
  const MAX_WAITING = 32;
  let port = null;
  let welcomed = false;
  let everWelcomed = false; // the page has been told Kagi is here
  let refusedAt = -Infinity;
  let subscribed = false;
  const waiting = []; // page messages received before the welcome
  const pending = new Set(); // ids of page requests still unanswered

  const toPage = (m) => window.postMessage({ ...m, channel: TO_PAGE }, window.location.origin);

  function connect() {
    if (port || performance.now() - refusedAt < RETRY_MS) return;
    port = api.runtime.connect({ name: "kagi-page" });
    port.onMessage.addListener((m) => {
      if (m && m.type === "welcome") {
        welcomed = everWelcomed = true;
        for (const w of waiting.splice(0)) handle(w);
        return;
      }
      if (m && m.type === "reply") pending.delete(m.id);
      toPage(m);
    });
    port.onDisconnect.addListener(() => {
      port = null;
      if (!welcomed) {
        // Refused (origin not served), or the worker went away before answering: silence.
        waiting.length = 0;
        refusedAt = performance.now();
        return;
      }
      welcomed = false;
      // Never leave the page waiting on a port that is gone (extension reloaded or updated).
      for (const id of pending) {
        toPage({ type: "reply", id, error: { code: "INTERNAL", message: "the Kagi extension restarted" } });
      }
      pending.clear();
      if (subscribed) setTimeout(() => fromPage({ type: "subscribe" }), 500);
    });
  }

  /** A page message once the service worker has welcomed this page. */
  function handle(m) {
    if (m.type === "hello") {
      toPage({ type: "hello", nonce: String(m.nonce), version: api.runtime.getManifest().version });
    } else if (m.type === "subscribe") {
      subscribed = true;
      port.postMessage({ type: "subscribe" });
    } else if (m.type === "request" && typeof m.id === "string") {
      pending.add(m.id);
      port.postMessage({ type: "request", id: m.id, cmd: String(m.cmd), args: m.args ?? {} });
    }
  }

  function fromPage(m) {
    if (welcomed && port) return handle(m);
    if (waiting.length < MAX_WAITING) waiting.push(m);
    connect();
    if (!port) waiting.length = 0; // refused a moment ago: drop, stay silent
  }

  window.addEventListener("message", (ev) => {
    if (ev.source !== window || ev.origin !== window.location.origin) return;
    const m = ev.data;
    if (!m || typeof m !== "object" || m.channel !== FROM_PAGE) return;
    try {
      fromPage(m);
    } catch (e) {
      // The extension context is gone (updated while the page stayed open), and the page had
      // been welcomed before: it knows Kagi already.
      if (everWelcomed && m.type === "request") toPage({ type: "reply", id: m.id, error: { code: "EXTENSION_NOT_INSTALLED", message: String(e) } });
    }
  });
})();
