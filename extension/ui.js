// Bootstrap of the extension pages (popup, PIN window, options): the UI is Rust (wasm/src/ui/).
import init, { startPage } from "./wasm/kagi_wasm.js";

init().then(() => startPage(document.documentElement.dataset.page));
