// Firefox ESR through puppeteer-core over WebDriver BiDi: a fresh profile, the extension
// installed as a temporary add-on, its moz-extension uuid pinned by pref, and the native host
// manifest in ~/.mozilla/native-messaging-hosts/ of the test's own HOME.
import path from "node:path";
import puppeteer from "puppeteer-core";
import { EXTENSION_DIR, registerHost, sleep } from "../rig.mjs";
import { JourneyPage, isPinUrl, withTimeout } from "./page.mjs";

export const GECKO_ID = "kagi@kagi.example";
export const EXTENSION_UUID = "6b1f3c52-4a8e-4d0b-9d1e-7a2c5e8f9b30";
export const FIREFOX_BIN = process.env.KAGI_FIREFOX || "/usr/bin/firefox-esr";

class FirefoxPage extends JourneyPage {
  constructor(page) {
    super();
    this.page = page;
  }
  async goto(url) {
    this.lastUrl = url;
    await this.page.goto(url);
  }
  evaluate(fn, arg) {
    // BiDi's view of a page can hang while it closes: never wait for long.
    return withTimeout(this.page.evaluate(fn, arg), 10000, "evaluate timed out");
  }
  click(sel) {
    return this.page.click(sel);
  }
  type(sel, text) {
    return this.page.type(sel, text);
  }
  async screenshot(file, size) {
    if (size) await this.page.setViewport(size);
    await this.page.screenshot({ path: file });
  }
  /** The browser's cookies for this page's URL: [{name, value, secure, httpOnly, path, sameSite}]. */
  async cookies() {
    const list = await withTimeout(this.page.cookies(), 10000, "cookies timed out");
    return list.map((c) => ({ name: c.name, value: c.value, secure: c.secure, httpOnly: c.httpOnly, path: c.path, sameSite: c.sameSite }));
  }
  closed() {
    return this.page.isClosed();
  }
  close() {
    return this.page.close().catch(() => {});
  }
}

export const name = "firefox";

/** Options: tmp (the test's directory), profile (profile dir name), withHost, headless. The
 * host is registered for the user `tmp/home` (Firefox reads ~/.mozilla/native-messaging-hosts/)
 * through `kagi-host install`, or uninstalled from it with `withHost: false`. */
export async function launch({ tmp, profile = "firefox", withHost = true, headless = true }) {
  const home = path.join(tmp, "home");
  await registerHost("firefox", home, { remove: !withHost });
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX_BIN,
    headless,
    userDataDir: path.join(tmp, profile),
    defaultViewport: { width: 1000, height: 700 },
    env: { ...process.env, HOME: home, KAGI_LOG_FILE: path.join(tmp, "host.log") },
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({ [GECKO_ID]: EXTENSION_UUID }),
      "intl.accept_languages": "ja,en",
    },
  });
  try {
    await browser.installExtension(EXTENSION_DIR);   // temporary add-on (BiDi webExtension.install)
  } catch (e) {
    await browser.close().catch(() => {});
    throw e;
  }
  const returned = new Set();
  // Puppeteer keeps the URL a popup window was created with (about:blank): ask the page.
  const hrefOf = (p) => withTimeout(p.evaluate(() => location.href), 2000, "no answer").catch(() => null);
  return {
    name,
    async newPage() {
      const p = await browser.newPage();
      returned.add(p);
      return new FirefoxPage(p);
    },
    async pinWindow(timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        for (const p of await browser.pages()) {
          if (returned.has(p) || p.isClosed()) continue;
          const href = await hrefOf(p);
          if (isPinUrl(href)) {
            returned.add(p);
            const w = new FirefoxPage(p);
            w.lastUrl = href;
            await w.waitUntil("PIN window ready", () => document.readyState === "complete" && !!document.querySelector("#app *"));
            return w;
          }
        }
        if (Date.now() > end) throw new Error("no PIN window opened");
        await sleep(150);
      }
    },
    /**
     * Opens one of the extension's own pages in a new tab. Firefox refuses driver navigation to
     * moz-extension:// URLs, so the extension opens it itself (`tabs.create`), asked from
     * `via`, an extension page the journey already holds (a PIN window).
     */
    async openExtensionPage(file, via) {
      if (!via) throw new Error(`Firefox: ${file} can only be opened from another extension page`);
      const url = `moz-extension://${EXTENSION_UUID}/${file}`;
      await via.evaluate((u) => { chrome.tabs.create({ url: u }); }, url);
      const end = Date.now() + 15000;
      for (;;) {
        for (const p of await browser.pages()) {
          if (returned.has(p) || p.isClosed()) continue;
          const href = await hrefOf(p);
          if (href && href.startsWith(url)) {
            returned.add(p);
            const w = new FirefoxPage(p);
            w.lastUrl = href;
            await w.waitUntil(`${file} ready`, () => document.readyState === "complete" && !!document.querySelector("#app *"));
            return w;
          }
        }
        if (Date.now() > end) throw new Error(`${file} did not open`);
        await sleep(150);
      }
    },
    async pinWindowCount() {
      let n = 0;
      for (const p of await browser.pages()) if (!p.isClosed() && isPinUrl(await hrefOf(p))) n++;
      return n;
    },
    async close() {
      const proc = browser.process();
      await withTimeout(browser.close(), 10000, "close timed out").catch(() => {});
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}
