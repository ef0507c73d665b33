// What the journey needs from a browser page, on top of a driver's few primitives (goto,
// evaluate, click, type, screenshot, close). Waits poll the page with `evaluate`, so they
// survive navigations and behave the same in every driver.
import { AXE_SOURCE, axeRunInPage, seriousViolations, sleep } from "../rig.mjs";

export class JourneyPage {
  /** Subclasses: goto(url), evaluate(fn, arg), click(sel), type(sel, text), screenshot(file, size), close(). */

  /** axe-core's serious and critical violations on the page as it is now (rig.mjs). */
  async axeViolations() {
    await this.evaluate(`${AXE_SOURCE}\n;true`);
    return seriousViolations(await this.evaluate(axeRunInPage));
  }

  /** Polls `fn(arg)` in the page until it returns a truthy value (navigations are retried). */
  async waitUntil(what, fn, arg, timeoutMs = 15000) {
    const end = Date.now() + timeoutMs;
    let last;
    for (;;) {
      try {
        const v = await this.evaluate(fn, arg);
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message.split("\n")[0]})` : ""}`);
      await sleep(100);
    }
  }

  /** Waits for a visible element matching `sel`. */
  waitFor(sel, timeoutMs) {
    return this.waitUntil(`${sel} on ${this.lastUrl ?? "the page"}`, (s) => {
      const e = document.querySelector(s);
      return !!e && !e.hidden && e.getClientRects().length > 0;
    }, sel, timeoutMs);
  }

  /** Waits until the page is `pathname` (and loaded). */
  waitPath(pathname, timeoutMs) {
    return this.waitUntil(`page ${pathname}`, (p) => location.pathname === p && document.readyState === "complete", pathname, timeoutMs);
  }

  href() {
    return this.evaluate(() => location.href);
  }

  text(sel) {
    return this.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
  }

  attr(sel, name) {
    return this.evaluate(([s, n]) => document.querySelector(s)?.getAttribute(n) ?? null, [sel, name]);
  }

  exists(sel) {
    return this.evaluate((s) => !!document.querySelector(s), sel);
  }

  /** Waits for `sel` to be visible, then clicks it. */
  async press(sel) {
    await this.waitFor(sel);
    await this.click(sel);
  }

  /** Replaces the value of an input by typing. */
  async fill(sel, value) {
    await this.waitFor(sel);
    await this.evaluate((s) => { document.querySelector(s).value = ""; }, sel);
    await this.type(sel, value);
  }

  /** Waits for `#kagi-token-status` to reach `state` (data-state); returns {state, text, days}. */
  status(state, timeoutMs) {
    return this.waitUntil(`token status ${state}`, (want) => {
      const e = document.getElementById("kagi-token-status");
      if (!e || e.dataset.state !== want) return null;
      return { state: e.dataset.state, text: e.textContent, days: e.dataset.days ? Number(e.dataset.days) : null };
    }, state, timeoutMs);
  }
}

/** `promise`, or a rejection after `ms` (the timer is cleared, so it never keeps the process alive). */
export function withTimeout(promise, ms, message) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** A PIN window is found among a browser's pages by its URL. */
export const isPinUrl = (u) => typeof u === "string" && /^(chrome|moz)-extension:\/\/[^/]+\/pin\.html/.test(u);
