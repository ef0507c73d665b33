// Chromium through Playwright (playwright-core on /usr/bin/chromium), launched by the rig with
// the unpacked extension and the native host registered in the profile (tests/browser/rig.mjs).
import { EXTENSION_ID, launchBrowser, sleep } from "../rig.mjs";
import { JourneyPage, isPinUrl } from "./page.mjs";

class ChromiumPage extends JourneyPage {
  constructor(page) {
    super();
    this.page = page;
  }
  async goto(url) {
    this.lastUrl = url;
    await this.page.goto(url);
  }
  evaluate(fn, arg) {
    return this.page.evaluate(fn, arg);
  }
  click(sel) {
    return this.page.click(sel);
  }
  type(sel, text) {
    return this.page.type(sel, text);
  }
  async screenshot(file, size) {
    if (size) await this.page.setViewportSize(size);
    await this.page.screenshot({ path: file });
  }
  /** The browser's cookies for this page's URL: [{name, value, secure, httpOnly, path, sameSite}]. */
  async cookies() {
    const list = await this.page.context().cookies(this.page.url());
    return list.map((c) => ({ name: c.name, value: c.value, secure: c.secure, httpOnly: c.httpOnly, path: c.path, sameSite: c.sameSite }));
  }
  closed() {
    return this.page.isClosed();
  }
  close() {
    return this.page.close().catch(() => {});
  }
}

export const name = "chromium";

/** Options: tmp (the test's directory), profile (user-data-dir name), withHost, headless. */
export async function launch({ tmp, profile = "chromium", withHost = true, headless = true }) {
  const ctx = await launchBrowser(tmp, { profile, withHost, headless, viewport: { width: 1000, height: 700 } });
  const seen = new WeakSet();
  return {
    name,
    async newPage() {
      const p = new ChromiumPage(await ctx.newPage());
      seen.add(p.page);
      return p;
    },
    /** The next PIN window the extension opens (one not returned before). */
    async pinWindow(timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const p = ctx.pages().find((x) => !seen.has(x) && !x.isClosed() && isPinUrl(x.url()));
        if (p) {
          seen.add(p);
          const w = new ChromiumPage(p);
          w.lastUrl = p.url();
          await w.waitUntil("PIN window ready", () => document.readyState === "complete" && !!document.querySelector("#app *"));
          return w;
        }
        if (Date.now() > end) throw new Error("no PIN window opened");
        await sleep(100);
      }
    },
    /** Opens one of the extension's own pages (`popup.html`, `options.html`) in a new tab. */
    async openExtensionPage(file) {
      const p = new ChromiumPage(await ctx.newPage());
      seen.add(p.page);
      await p.goto(`chrome-extension://${EXTENSION_ID}/${file}`);
      await p.waitUntil(`${file} ready`, () => document.readyState === "complete" && !!document.querySelector("#app *"));
      return p;
    },
    /** PIN windows currently open. */
    async pinWindowCount() {
      return ctx.pages().filter((x) => !x.isClosed() && isPinUrl(x.url())).length;
    },
    async close() {
      await ctx.close().catch(() => {});
    },
  };
}
