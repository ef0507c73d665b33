// Bootstrap of the extension pages (popup, PIN and confirmation window, options): the UI is Rust
// (wasm/src/ui/), in its own module kagi_ui (kagi-wasm feature `pages`; the service worker loads
// kagi_wasm).
// The texts are not in the WASM: both catalogs (catalog/ja.json, catalog/en.json, the catalog
// the bank pages share) are read here and handed over, since the language is the customer's or
// the defaultLanguage policy's choice, not the browser's (which is all chrome.i18n follows).
import init, { startPage } from "./wasm/kagi_ui.js";

const api = globalThis.browser ?? globalThis.chrome;

/** The catalog of `lang` with {bank} (the bankName policy, else the catalog's 「お取引の金融機関」)
 * and {service} (the smart card service of this platform: Windows names SCardSvr) filled in. */
async function catalog(lang, bank, os) {
  const c = await (await fetch(`catalog/${lang}.json`)).json();
  const fill = { bank: bank || c.BankDefault, service: c[os === "win" ? "ServiceWindows" : os === "mac" ? "ServiceMac" : "ServiceLinux"] };
  for (const k of Object.keys(c)) c[k] = c[k].replace(/\{(bank|service)\}/g, (_, v) => fill[v]);
  return c;
}

// storage.managed is refused in Firefox without a policy: no bank name then.
const policy = Promise.resolve().then(() => api.storage.managed.get("bankName")).catch(() => ({}));
const platform = Promise.resolve().then(() => api.runtime.getPlatformInfo()).catch(() => ({}));

Promise.all([init(), policy, platform]).then(async ([, p, info]) => {
  const bank = typeof p?.bankName === "string" ? p.bankName.trim().slice(0, 80) : "";
  const [ja, en] = await Promise.all(["ja", "en"].map((l) => catalog(l, bank, info?.os)));
  startPage(document.documentElement.dataset.page, { ja, en });
});
