// Kagi page library: lets a bank page talk to the Kagi extension (and through it to the
// customer's 専用USB token) over window.postMessage. Served by the bank, e.g. /static/kagi.js.
//
//   import { Kagi, KagiError } from "/static/kagi.js";
//   const kagi = await Kagi.connect({ timeoutMs: 3000 });
//   const st = await kagi.status();
//   const off = kagi.onTokenChange(ev => ...);
//   const login = await kagi.authenticate(nonce);
//   const done = await kagi.acquireCertificate({ algorithm: "P-256", submitCsr: async csr => cert });
//
// The page never sees the PIN: it is typed in the extension's own window. Every rejection is a
// KagiError {code, message, retries?}. Types: kagi.d.ts. Wire format: extension/README.md.

const TO_EXTENSION = "kagi:page";      // page -> content script
const FROM_EXTENSION = "kagi:ext";     // content script -> page
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
// Backstop for machine work (the extension enforces its own per-command timeouts and reports
// progress); suspended while the customer is typing the PIN or confirming.
const DEFAULT_REQUEST_TIMEOUT_MS = 30000;

/** An error with a stable `code` (see kagi.d.ts for the list). */
export class KagiError extends Error {
  constructor(code, message, retries) {
    super(message || code);
    this.name = "KagiError";
    this.code = code;
    if (typeof retries === "number") this.retries = retries;
  }
}

function randomId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function post(msg) {
  window.postMessage({ channel: TO_EXTENSION, ...msg }, window.location.origin);
}

function toError(e) {
  if (e instanceof KagiError) return e;
  if (e && typeof e.code === "string") return new KagiError(e.code, e.message, e.retries);
  return new KagiError("INTERNAL", String((e && e.message) || e));
}

export class Kagi {
  /**
   * Finds the Kagi extension on this page. Rejects with EXTENSION_NOT_INSTALLED when no
   * content script answers within `timeoutMs`.
   */
  static connect({ timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const nonce = randomId();
      let retry = null;
      const done = (fn) => {
        window.removeEventListener("message", onMessage);
        clearTimeout(timer);
        clearInterval(retry);
        fn();
      };
      const onMessage = (ev) => {
        const m = ev.data;
        if (ev.source !== window || !m || m.channel !== FROM_EXTENSION) return;
        if (m.type === "hello" && m.nonce === nonce) {
          done(() => resolve(new Kagi(m.version, requestTimeoutMs)));
        }
      };
      window.addEventListener("message", onMessage);
      const timer = setTimeout(
        () => done(() => reject(new KagiError("EXTENSION_NOT_INSTALLED", "the Kagi extension did not answer"))),
        timeoutMs,
      );
      // The content script may still be starting: ask again until it answers or we give up.
      post({ type: "hello", nonce });
      retry = setInterval(() => post({ type: "hello", nonce }), 250);
    });
  }

  constructor(version, requestTimeoutMs) {
    /** Version of the extension that answered. */
    this.extensionVersion = version;
    this._timeoutMs = requestTimeoutMs;
    this._pending = new Map();
    this._listeners = new Set();
    this._onMessage = (ev) => this._receive(ev);
    window.addEventListener("message", this._onMessage);
    post({ type: "subscribe" });
  }

  /**
   * Host, readers, and the token with its certificate summary. Resolves with
   * `{host: "HOST_NOT_INSTALLED", readers: [], token: null}` when the native host is missing.
   */
  status() {
    return this._call("status", {});
  }

  /** Calls `cb({type: "inserted"|"removed", reader, token})` on token changes; returns an unsubscribe function. */
  onTokenChange(cb) {
    this._listeners.add(cb);
    return () => this._listeners.delete(cb);
  }

  /**
   * Signs the bank's login challenge. The extension opens its PIN window; the promise resolves
   * with the kagi-auth:1 LoginToken `{format, certificate, algorithm, signature}`.
   */
  authenticate(nonce) {
    if (typeof nonce !== "string") return Promise.reject(new KagiError("BAD_REQUEST", "nonce must be a string"));
    return this._call("authenticate", { nonce });
  }

  /**
   * Acquires (or renews) the login certificate onto the token: confirm + PIN in the extension's
   * window, key generation on the token, `submitCsr(csrBase64)` (the page sends the CSR to its CA
   * and returns the issued certificate, standard base64 DER), then storing it. `onProgress({step})`
   * is optional. Resolves with `{certificate: CertSummary}`.
   */
  async acquireCertificate({ algorithm = "P-256", submitCsr, onProgress } = {}) {
    if (typeof submitCsr !== "function") throw new KagiError("BAD_REQUEST", "submitCsr must be a function");
    const progress = (step) => { try { onProgress && onProgress({ step }); } catch (_) { /* page's own bug */ } };
    const begun = await this._call("enroll.begin", { algorithm }, progress);
    progress("issue");
    let certificate;
    try {
      certificate = await submitCsr(begun.csr);
      if (typeof certificate !== "string" || certificate.length === 0) {
        throw new KagiError("BAD_REQUEST", "submitCsr must resolve with the certificate in base64");
      }
    } catch (e) {
      const err = toError(e);
      // Tell the extension so its progress window shows the failure instead of waiting.
      post({ type: "request", id: randomId(), cmd: "enroll.abort", args: { enrollment: begun.enrollment, code: err.code, message: err.message } });
      throw err;
    }
    return this._call("enroll.finish", { enrollment: begun.enrollment, certificate }, progress);
  }

  /** Stops listening; pending calls reject with CANCELLED. */
  close() {
    window.removeEventListener("message", this._onMessage);
    for (const p of this._pending.values()) {
      clearTimeout(p.timer);
      p.reject(new KagiError("CANCELLED", "closed"));
    }
    this._pending.clear();
    this._listeners.clear();
  }

  _call(cmd, args, onProgress) {
    return new Promise((resolve, reject) => {
      const id = randomId();
      const p = { resolve, reject, onProgress, timer: null };
      this._pending.set(id, p);
      this._arm(id, p);
      post({ type: "request", id, cmd, args });
    });
  }

  _arm(id, p) {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      this._pending.delete(id);
      p.reject(new KagiError("TIMEOUT", "the Kagi extension did not answer in time"));
    }, this._timeoutMs);
  }

  _receive(ev) {
    const m = ev.data;
    if (ev.source !== window || !m || m.channel !== FROM_EXTENSION) return;
    if (m.type === "event") {
      if (m.event && (m.event.type === "inserted" || m.event.type === "removed")) {
        for (const cb of [...this._listeners]) {
          try { cb(m.event); } catch (e) { setTimeout(() => { throw e; }); }
        }
      }
      return;
    }
    const p = this._pending.get(m.id);
    if (!p) return;
    if (m.type === "progress") {
      // While the customer is in the extension's window (confirm, PIN) there is no timeout.
      if (m.waitingForUser) clearTimeout(p.timer);
      else this._arm(m.id, p);
      if (p.onProgress && m.step) p.onProgress(m.step);
      return;
    }
    if (m.type === "reply") {
      clearTimeout(p.timer);
      this._pending.delete(m.id);
      if (m.error) p.reject(toError(m.error));
      else p.resolve(m.result);
    }
  }
}

export default Kagi;
