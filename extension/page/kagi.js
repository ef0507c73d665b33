// Kagi page library: lets a bank page talk to the Kagi extension (and through it to the
// customer's 専用USB token) over window.postMessage. An ES module, served by the bank (e.g.
// /static/kagi.js) or installed as the npm package @kagi/kagi-js (package.json beside it).
//
//   import { Kagi, KagiError } from "/static/kagi.js";   // or from "@kagi/kagi-js"
//   const kagi = await Kagi.connect({ issuers: [bankCaBase64], timeoutMs: 3000, lang: "ja" });
//   const st = await kagi.status();                       // {host, readers, tokens, token, versions}
//   const off = kagi.onTokenChange(ev => ...);            // {type: "inserted"|"removed", reader}
//   const login = await kagi.authenticate(nonce);
//   const done = await kagi.acquireCertificate({ algorithm: "P-256", submitCsr: async (csr, attestation) => cert });
//
// `issuers` are the bank's CA certificates (1 to 8, standard base64 DER or PEM): Kagi uses and
// replaces only certificates they issued. Give them once to connect() or per call ({issuers}).
// The page never sees the PIN: it is typed in the extension's own window. Every rejection is a
// KagiError {code, message, retries?}. Types: kagi.d.ts. Wire format: extension/README.md.

/** This library's version: the workspace's, as package.json says (a test keeps them equal). */
export const VERSION = "0.1.0";

const TO_EXTENSION = "kagi:page";      // page -> content script
const FROM_EXTENSION = "kagi:ext";     // content script -> page
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
// Backstop for machine work (the extension enforces its own per-command timeouts and reports
// progress); suspended while the customer is typing the PIN or confirming.
const DEFAULT_REQUEST_TIMEOUT_MS = 30000;

/**
 * The language of the messages this library writes itself (`connect({lang})`): "ja" or "en".
 * Without one, the page's own `<html lang>` when it is English, else Japanese.
 */
function pickLang(lang) {
  if (lang === "ja" || lang === "en") return lang;
  if (lang !== undefined && lang !== null) throw new KagiError("BAD_REQUEST", "lang must be \"ja\" or \"en\"");
  const page = typeof document !== "undefined" && document.documentElement ? document.documentElement.lang : "";
  return /^en\b/i.test(page || "") ? "en" : "ja";
}

/** Messages of the errors this library raises itself, by language. */
const MESSAGES = {
  ja: {
    EXTENSION_NOT_INSTALLED: "Kagi の拡張機能が応答しませんでした。",
    TIMEOUT: "Kagi の拡張機能が時間内に応答しませんでした。",
    CANCELLED: "終了しました。",
  },
  en: {
    EXTENSION_NOT_INSTALLED: "the Kagi extension did not answer",
    TIMEOUT: "the Kagi extension did not answer in time",
    CANCELLED: "closed",
  },
};

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

/**
 * The bank's CA certificates in the wire form: an array of standard-base64 DER strings. Accepts
 * one certificate or an array, each base64 DER or PEM. `undefined` stays `undefined`.
 */
function normalizeIssuers(issuers) {
  if (issuers === undefined || issuers === null) return undefined;
  const list = Array.isArray(issuers) ? issuers : [issuers];
  if (list.length === 0 || list.length > 8 || !list.every((c) => typeof c === "string")) {
    throw new KagiError("BAD_REQUEST", "issuers must be 1 to 8 CA certificates (base64 DER or PEM strings)");
  }
  return list.map((c) => c.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, ""));
}

function toError(e) {
  if (e instanceof KagiError) return e;
  if (e && typeof e.code === "string") return new KagiError(e.code, e.message, e.retries);
  return new KagiError("INTERNAL", String((e && e.message) || e));
}

export class Kagi {
  /**
   * Finds the Kagi extension on this page. Rejects with EXTENSION_NOT_INSTALLED when no
   * content script answers within `timeoutMs`: Kagi is not installed, or this page's origin is
   * not one Kagi serves (it stays silent there; an administrator's allowedOrigins or the
   * customer's options page decides). `issuers`: the bank's CA certificates, used by
   * every call that does not name its own.
   */
  static connect({ issuers, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS, requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS, lang } = {}) {
    let bankIssuers, language;
    try { bankIssuers = normalizeIssuers(issuers); language = pickLang(lang); } catch (e) { return Promise.reject(e); }
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
          done(() => resolve(new Kagi(m.version, requestTimeoutMs, bankIssuers, language)));
        }
      };
      window.addEventListener("message", onMessage);
      const timer = setTimeout(
        () => done(() => reject(new KagiError("EXTENSION_NOT_INSTALLED", MESSAGES[language].EXTENSION_NOT_INSTALLED))),
        timeoutMs,
      );
      // The content script may still be starting: ask again until it answers or we give up.
      post({ type: "hello", nonce });
      retry = setInterval(() => post({ type: "hello", nonce }), 250);
    });
  }

  constructor(version, requestTimeoutMs, issuers, lang) {
    /** Version of the extension that answered. */
    this.extensionVersion = version;
    /** Language of the messages this library writes itself: "ja" or "en". */
    this.lang = lang || "ja";
    this._issuers = issuers;
    this._timeoutMs = requestTimeoutMs;
    this._pending = new Map();
    this._listeners = new Set();
    this._onMessage = (ev) => this._receive(ev);
    window.addEventListener("message", this._onMessage);
    post({ type: "subscribe" });
  }

  /**
   * Host, readers, every PIV token (`tokens`, each with the bank's certificate when `issuers`
   * are known), and `token`: the one token holding the bank's certificate if exactly one does,
   * else the first token (null without tokens). Resolves with `{host: "HOST_NOT_INSTALLED",
   * readers: [], tokens: [], token: null}` when the native host is missing. `versions`:
   * `{library, extension, host}` (host null when it is not installed), what a support desk asks.
   */
  async status({ issuers } = {}) {
    const args = this._withIssuers({}, issuers, false);
    const st = await this._call("status", args);
    const host = st && typeof st.hostVersion === "string" ? st.hostVersion : null;
    return { ...st, versions: { library: VERSION, extension: this.extensionVersion ?? null, host } };
  }

  /**
   * Calls `cb({type: "inserted"|"removed", reader})` on token changes (presence only: call
   * status() for details); returns an unsubscribe function.
   */
  onTokenChange(cb) {
    this._listeners.add(cb);
    return () => this._listeners.delete(cb);
  }

  /**
   * Signs the bank's login challenge. The extension opens its PIN window; the promise resolves
   * with the kagi-auth:1 LoginToken `{format, certificate, algorithm, signature}`, signed with the
   * bank's certificate (the customer chooses in that window when several match).
   */
  authenticate(nonce, { issuers } = {}) {
    if (typeof nonce !== "string") return Promise.reject(new KagiError("BAD_REQUEST", "nonce must be a string"));
    let args;
    try { args = this._withIssuers({ nonce }, issuers, true); } catch (e) { return Promise.reject(e); }
    return this._call("authenticate", args);
  }

  /**
   * Has the customer confirm a transaction in Kagi's own window and sign it on the token
   * (kagi-tx:1, docs/protocol.md "Transaction confirmation"). `tx` is the bank's own rendering of
   * the request: a flat object whose keys are the kind's field names and whose values are
   * strings; `nonce` the bank's transaction challenge for it. Resolves with
   * `{format: "kagi-tx:1", certificate, algorithm, signature, bodySha256}`, which the page posts to
   * the bank; the bank verifies it against its own record. A `tx` Kagi refuses rejects with
   * TX_INVALID (`field` in the message) and shows no window. Cancel in the window rejects with
   * CANCELLED, the token pulled meanwhile with CARD_REMOVED. Extensions older than the
   * confirmation window answer with an error (BAD_REQUEST, unknown command): nothing is signed.
   */
  confirmTransaction({ nonce, tx, issuers } = {}) {
    if (typeof nonce !== "string") return Promise.reject(new KagiError("BAD_REQUEST", "nonce must be a string"));
    const plain = tx && typeof tx === "object" && !Array.isArray(tx) && Object.values(tx).every((v) => typeof v === "string");
    if (!plain) return Promise.reject(new KagiError("TX_INVALID", "tx must be a flat object of strings"));
    let args;
    try { args = this._withIssuers({ nonce, tx: { ...tx } }, issuers, true); } catch (e) { return Promise.reject(e); }
    return this._call("confirm", args);
  }

  /**
   * Acquires (or renews) the login certificate onto the token: confirm + PIN in the extension's
   * window, key generation on the token, `submitCsr(csrBase64, attestation)` (the page sends the
   * CSR to its CA and returns the issued certificate, standard base64 DER), then storing it.
   * `attestation` is `{attestation, attestationIntermediate}` (standard base64 DER: the token's
   * statement that it generated the key, and its F9 certificate) when the token can attest, else
   * `{}`; a bank that requires key attestation sends both with the CSR. `onProgress({step})` is
   * optional. Resolves with `{certificate: CertSummary}`.
   */
  async acquireCertificate({ issuers, algorithm = "P-256", submitCsr, onProgress } = {}) {
    if (typeof submitCsr !== "function") throw new KagiError("BAD_REQUEST", "submitCsr must be a function");
    const args = this._withIssuers({ algorithm }, issuers, true);
    const progress = (step) => { try { onProgress && onProgress({ step }); } catch (_) { /* page's own bug */ } };
    const begun = await this._call("enroll.begin", args, progress);
    progress("issue");
    let certificate;
    try {
      const attestation = begun.attestation && begun.attestationIntermediate
        ? { attestation: begun.attestation, attestationIntermediate: begun.attestationIntermediate } : {};
      certificate = await submitCsr(begun.csr, attestation);
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
      p.reject(new KagiError("CANCELLED", MESSAGES[this.lang].CANCELLED));
    }
    this._pending.clear();
    this._listeners.clear();
  }

  /** `args` with the call's issuers, else those given to connect(); `required` for log-on and acquisition. */
  _withIssuers(args, issuers, required) {
    const list = normalizeIssuers(issuers) ?? this._issuers;
    if (list) return { ...args, issuers: list };
    if (required) throw new KagiError("BAD_REQUEST", "issuers (the bank's CA certificates) are required: pass them to Kagi.connect() or to this call");
    return args;
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
      p.reject(new KagiError("TIMEOUT", MESSAGES[this.lang].TIMEOUT));
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
