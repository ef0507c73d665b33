// Service worker bootstrap (Chromium) / background script (Firefox). The logic is in Rust
// (wasm/src/background.rs, wasm/src/broker/). Listeners are registered synchronously here, as
// MV3 requires, and ports that connect before the WASM is ready are buffered with their messages.
import init, { Background } from "./wasm/kagi_wasm.js";

const api = globalThis.browser ?? globalThis.chrome;
let background = null;
const early = [];

function adopt(port) {
  const queued = [];
  let gone = false;
  const onMessage = (m) => queued.push(m);
  const onGone = () => { gone = true; };
  port.onMessage.addListener(onMessage);
  port.onDisconnect.addListener(onGone);
  early.push(() => {
    port.onMessage.removeListener(onMessage);
    port.onDisconnect.removeListener(onGone);
    if (!gone) background.onConnect(port, queued);
  });
}

api.runtime.onConnect.addListener((port) => (background ? background.onConnect(port, []) : adopt(port)));
api.storage.onChanged.addListener(() => background && background.reloadSettings());

// The customer's allowlist (storage.local userOrigins) is written by the options page only:
// content scripts may not read or write storage.local (issue 11). Chromium keeps the level
// (a per-extension preference); Firefox has no setAccessLevel for storage.local (bug 1724754),
// so there the content script simply never touches storage.
api.storage.local.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" })?.catch?.((e) => console.warn("kagi: storage.local access level:", e));

init().then(() => {
  const b = new Background();
  // Ports that connected meanwhile are handed over once the settings are loaded, so that a
  // page's port is judged against the real allowlist.
  b.start(() => {
    background = b;
    for (const hand_over of early.splice(0)) hand_over();
  });
});
