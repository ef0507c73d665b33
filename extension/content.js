// Kagi content script: relays between the bank page (window.postMessage, see page/kagi.js) and
// the service worker (one runtime port, opened only when the page uses Kagi). It adds nothing to
// the page and decides nothing: the service worker checks the origin from the browser's sender
// record and refuses other origins with ORIGIN_NOT_ALLOWED.
(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const FROM_PAGE = "kagi:page";
  const TO_PAGE = "kagi:ext";
  let port = null;
  let subscribed = false;
  const pending = new Set(); // ids of page requests still unanswered

  const toPage = (m) => window.postMessage({ ...m, channel: TO_PAGE }, window.location.origin);

  function ensurePort() {
    if (port) return port;
    port = api.runtime.connect({ name: "kagi-page" });
    port.onMessage.addListener((m) => {
      if (m && m.type === "reply") pending.delete(m.id);
      toPage(m);
    });
    port.onDisconnect.addListener(() => {
      port = null;
      // Never leave the page waiting on a port that is gone (extension reloaded or updated).
      for (const id of pending) {
        toPage({ type: "reply", id, error: { code: "INTERNAL", message: "the Kagi extension restarted" } });
      }
      pending.clear();
      if (subscribed) setTimeout(() => ensurePort().postMessage({ type: "subscribe" }), 500);
    });
    return port;
  }

  window.addEventListener("message", (ev) => {
    if (ev.source !== window || ev.origin !== window.location.origin) return;
    const m = ev.data;
    if (!m || typeof m !== "object" || m.channel !== FROM_PAGE) return;
    try {
      if (m.type === "hello") {
        toPage({ type: "hello", nonce: String(m.nonce), version: api.runtime.getManifest().version });
      } else if (m.type === "subscribe") {
        subscribed = true;
        ensurePort().postMessage({ type: "subscribe" });
      } else if (m.type === "request" && typeof m.id === "string") {
        pending.add(m.id);
        ensurePort().postMessage({ type: "request", id: m.id, cmd: String(m.cmd), args: m.args ?? {} });
      }
    } catch (e) {
      // The extension context is gone (updated while the page stayed open).
      if (m.type === "request") toPage({ type: "reply", id: m.id, error: { code: "EXTENSION_NOT_INSTALLED", message: String(e) } });
    }
  });
})();
