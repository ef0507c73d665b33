// Shared by the bank's page scripts: messages (Japanese first, English second), the token
// status box, error texts and the JSON API helper. The texts of the extension's error codes
// come from the catalog Kagi's extension shows too (catalog/*.json, served inlined before this
// file as CATALOG by bank/src/pages/assets.rs), with 当金庫 for {bank}: the bank speaking of
// itself. The texts below are the bank's own (its status box, its API's codes). The extension is reached through kagi.js,
// the page library the Kagi extension ships.
import { Kagi, KagiError } from "/static/kagi.js";

export { Kagi, KagiError };
export const lang = document.documentElement.lang === "en" ? "en" : "ja";
const sfx = lang === "en" ? "?lang=en" : "";
export const installUrl = "/help/install" + sfx;

const M = {
  ja: {
    checking: "専用USBの状態を確認しています…",
    noExtension: "ブラウザ拡張機能「Kagi」がインストールされていません。",
    noHost: "専用USBの管理ソフトがインストールされていません。",
    noToken: "専用USBが接続されていません。",
    noCert: "専用USBに電子証明書が保存されていません。「電子証明書取得」から取得してください。",
    valid: "専用USBが接続されています。電子証明書の有効期限：{date}（あと{days}日）",
    renewal: "専用USBが接続されています。電子証明書の有効期限：{date}（あと{days}日）。更新期間中です。電子証明書を更新してください。",
    expiredRenewable: "電子証明書の有効期限が切れています（{date}）。更新期間中（{end}まで）です。電子証明書を更新してください。",
    renewalExpired: "電子証明書の更新期限切れです（有効期限 {date}）。当金庫まで連絡のうえ、再発行依頼書をご提出ください。",
    installLink: "管理ソフトのダウンロードページはこちら",
    connectToken: "専用USBが接続されていません。専用USBを接続してから、もう一度お試しください。",
    CHOICE_REQUIRED: "当金庫の電子証明書が複数見つかりました。拡張機能「Kagi」の画面で、使用する電子証明書を選択してください。",
    NO_CERTIFICATE: "専用USBに電子証明書が保存されていません。「電子証明書取得」から取得してください。",
    CERT_EXPIRED: "電子証明書の有効期限が切れています。電子証明書を更新してください。",
    CERT_NOT_YET_VALID: "電子証明書の有効期間が始まっていません。",
    CERT_REVOKED: "この電子証明書は失効しています。電子証明書を取得し直してください。",
    CERT_UNKNOWN_ISSUER: "この電子証明書は当金庫が発行したものではありません。",
    CERT_UNKNOWN_TO_BANK: "この電子証明書は当金庫が発行したものではありません。",
    NONCE: "ログオンの有効時間が過ぎました。もう一度「ログオン」ボタンを押してください。",
    BAD_SIGNATURE: "電子証明書による認証に失敗しました。",
    NO_ACQUISITION: "契約者情報の確認からやり直してください。",
    ACQUISITION_EXPIRED: "有効時間が過ぎました。契約者情報の確認からやり直してください。",
    NOT_IN_RENEWAL_PERIOD: "現在は電子証明書の更新期間ではありません。再発行依頼書をご提出ください。",
    REISSUE_REQUIRED: "電子証明書の再発行が必要です。当金庫まで連絡のうえ、再発行依頼書をご提出ください。",
    ATTESTATION_REQUIRED: "当金庫が指定する専用USBで生成された鍵でなければ、電子証明書を発行できません。当金庫指定の専用USBを接続して、もう一度お試しください。",
    ATTESTATION_INVALID: "専用USBの鍵を確認できなかったため、電子証明書を発行できませんでした。当金庫指定の専用USBを接続して、もう一度お試しください。",
    generic: "処理を完了できませんでした（{code}）。",
    logonProgress: "ログオンしています。拡張機能「Kagi」の画面で暗証番号を入力してください…",
    step_choose: "拡張機能「Kagi」の画面で、使用する専用USBを選択してください…",
    step_confirm: "確認しています…",
    step_unblock: "拡張機能「Kagi」の画面で、暗証番号のロックを解除してください…",
    step_pin: "拡張機能「Kagi」の画面で暗証番号を入力してください…",
    step_generate: "専用USBで鍵を生成しています…",
    step_issue: "電子証明書を発行しています…",
    step_store: "専用USBに電子証明書を保存しています…",
    step_done: "保存が完了しました。",
    saving: "電子証明書を専用USBに保存しています。保存が完了するまで、そのままお待ちください…",
  },
  en: {
    checking: "Checking the USB token…",
    noExtension: "The Kagi browser extension is not installed.",
    noHost: "The USB token software is not installed.",
    noToken: "The USB token is not connected.",
    noCert: "The USB token holds no electronic certificate. Obtain one with “Obtain certificate”.",
    valid: "The USB token is connected. Certificate valid until {date} ({days} days left).",
    renewal: "The USB token is connected. Certificate valid until {date} ({days} days left). It is in its renewal period: please renew it.",
    expiredRenewable: "Your certificate expired on {date}. You can still renew it until {end}.",
    renewalExpired: "The renewal period of your certificate (expired {date}) is over. Please contact us and submit a reissue request.",
    installLink: "Software download page",
    connectToken: "The USB token is not connected. Connect it and try again.",
    CHOICE_REQUIRED: "Several of our certificates were found. Choose the one to use in the Kagi window.",
    NO_CERTIFICATE: "The USB token holds no electronic certificate. Obtain one with “Obtain certificate”.",
    CERT_EXPIRED: "Your certificate has expired. Please renew it.",
    CERT_NOT_YET_VALID: "Your certificate is not valid yet.",
    CERT_REVOKED: "This certificate has been revoked. Please obtain a new one.",
    CERT_UNKNOWN_ISSUER: "This certificate was not issued by our bank.",
    CERT_UNKNOWN_TO_BANK: "This certificate was not issued by our bank.",
    NONCE: "The log-on took too long. Press “Log on” again.",
    BAD_SIGNATURE: "Authentication with the certificate failed.",
    NO_ACQUISITION: "Please start again from the contract information.",
    ACQUISITION_EXPIRED: "Time is up. Please start again from the contract information.",
    NOT_IN_RENEWAL_PERIOD: "Your certificate is not in its renewal period. Please submit a reissue request.",
    REISSUE_REQUIRED: "Your certificate must be reissued. Please contact us and submit a reissue request.",
    ATTESTATION_REQUIRED: "We issue certificates only for keys generated on a USB token we accept. Connect such a token and try again.",
    ATTESTATION_INVALID: "The key on the USB token could not be confirmed, so no certificate was issued. Connect a USB token we accept and try again.",
    generic: "The operation could not be completed ({code}).",
    logonProgress: "Logging on. Type your PIN in the Kagi window…",
    step_choose: "Choose the USB token in the Kagi window…",
    step_confirm: "Checking…",
    step_unblock: "Unblock the PIN in the Kagi window…",
    step_pin: "Type your PIN in the Kagi window…",
    step_generate: "Generating a key on the USB token…",
    step_issue: "Issuing the certificate…",
    step_store: "Saving the certificate to the USB token…",
    step_done: "Saved.",
    saving: "Saving the certificate to the USB token. Please wait until it completes…",
  },
};

/** The shared catalog's fill-ins: the bank names itself, and names this platform's smart card service. */
const SHARED = {
  bank: lang === "en" ? "us" : "当金庫",
  service: CATALOG[lang][/Windows/.test(navigator.userAgent) ? "ServiceWindows" : /Mac OS X/.test(navigator.userAgent) ? "ServiceMac" : "ServiceLinux"],
};

/** Whether there is a text for `key`. */
export function hasText(key) {
  return key in M.ja || key in CATALOG.ja;
}

export function t(key, vars = {}) {
  const s = M[lang][key] ?? CATALOG[lang][key] ?? M.ja[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? SHARED[k] ?? ""));
}

/** Codes after which the customer needs the install page. */
const INSTALL_CODES = new Set(["EXTENSION_NOT_INSTALLED", "HOST_NOT_INSTALLED", "PCSC_UNAVAILABLE", "NO_READER"]);

/** Customer-facing text for a KagiError or a bank API error code. */
export function errorText(code, retries) {
  switch (code) {
    case "EXTENSION_NOT_INSTALLED": return t("noExtension");
    case "HOST_NOT_INSTALLED": return t("noHost");
    case "PCSC_UNAVAILABLE": case "NO_READER": return t("PCSC_UNAVAILABLE");
    case "TOKEN_ABSENT": return t("connectToken");
    case "NONCE_UNKNOWN": case "NONCE_REPLAYED": case "NONCE_EXPIRED": case "NONCE_WRONG_SESSION": case "NO_SESSION": return t("NONCE");
    default:
      if (hasText(code)) return t(code, { n: retries ?? "?" });
      return t("generic", { code });
  }
}

/** Shows an error in `el`: text, stable code in data-code, and the install link when it helps. */
export function showError(el, code, retries) {
  el.hidden = false;
  el.dataset.code = code;
  el.textContent = errorText(code, retries);
  if (INSTALL_CODES.has(code) || code === "TOKEN_ABSENT") {
    el.append(" ");
    const a = document.createElement("a");
    a.href = installUrl;
    a.id = "error-install-link";
    a.textContent = t("installLink");
    el.append(a);
  }
}

export function hideError(el) {
  el.hidden = true;
  el.textContent = "";
  delete el.dataset.code;
}

/** POSTs JSON to the bank; resolves with the JSON body or rejects {code, message}. */
export async function api(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
      credentials: "same-origin",
    });
  } catch (e) {
    throw { code: "NETWORK", message: String(e) };
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data.error ?? { code: "HTTP_" + res.status, message: res.statusText };
  return data;
}

const DAY = 86400000;
const statusEl = () => document.getElementById("kagi-token-status");
// The bank's clock (which may run with an offset in demos) relative to the browser's.
const skew = (() => {
  const el = statusEl();
  const now = el ? Number(el.dataset.now) : NaN;
  return Number.isFinite(now) ? now - Date.now() : 0;
})();
export const bankNow = () => Date.now() + skew;

function fmtDate(ms) {
  // Shown in JST, like the bank's screens.
  const d = new Date(ms + 9 * 3600000);
  const y = d.getUTCFullYear(), m = d.getUTCMonth() + 1, day = d.getUTCDate();
  return lang === "ja" ? `${y}年${m}月${day}日` : `${y}-${String(m).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/**
 * The bank's CA certificates (standard base64 DER) from the page's `<meta name="kagi-issuers">`:
 * the extension and its host use and replace only certificates this bank issued.
 */
export const issuers = (document.querySelector('meta[name="kagi-issuers"]')?.content ?? "").split(/\s+/).filter(Boolean);

/** The tokens of a status() result (`tokens`, one per reader holding a PIV token). */
export function tokensOf(st) {
  if (!st) return [];
  if (Array.isArray(st.tokens)) return st.tokens;
  return st.token ? [st.token] : [];
}

/** The token and certificate the status box talks about: the bank's certificate that expires last. */
export function bankCertificate(st) {
  let best = null;
  for (const token of tokensOf(st)) {
    const c = token.certificate;
    if (c && (!best || Date.parse(c.notAfter) > Date.parse(best.certificate.notAfter))) best = { token, certificate: c };
  }
  return best;
}

/** {state, text} for a status() result (or an error code when there is none). */
export function describe(st, code) {
  if (code) {
    // A page on an origin the extension does not serve learns nothing about the token.
    if (code === "ORIGIN_NOT_ALLOWED") return { state: "origin-not-allowed", text: errorText(code) };
    const state = { EXTENSION_NOT_INSTALLED: "no-extension", HOST_NOT_INSTALLED: "no-host" }[code] ?? "pcsc-unavailable";
    return { state, text: errorText(code), install: true };
  }
  if (st.host === "HOST_NOT_INSTALLED") return { state: "no-host", text: t("noHost"), install: true };
  if (st.host === "PCSC_UNAVAILABLE") return { state: "pcsc-unavailable", text: t("PCSC_UNAVAILABLE"), install: true };
  if (tokensOf(st).length === 0) return { state: "no-token", text: t("noToken") };
  const found = bankCertificate(st);
  if (!found) return { state: "no-certificate", text: t("noCert") };
  const cert = found.certificate;
  const el = statusEl();
  const before = Number(el?.dataset.renewBeforeDays ?? 30), after = Number(el?.dataset.renewAfterDays ?? 90);
  const notAfter = Date.parse(cert.notAfter);
  const now = bankNow();
  const days = Math.ceil((notAfter - now) / DAY);
  const date = fmtDate(notAfter);
  if (now > notAfter + after * DAY) return { state: "renewal-expired", text: t("renewalExpired", { date }), days };
  if (now > notAfter) return { state: "expired-renewable", text: t("expiredRenewable", { date, end: fmtDate(notAfter + after * DAY) }), days };
  if (now >= notAfter - before * DAY) return { state: "renewal", text: t("renewal", { date, days }), days };
  return { state: "valid", text: t("valid", { date, days }), days };
}

export function renderStatus(view) {
  const el = statusEl();
  if (!el) return;
  el.dataset.state = view.state;
  if (view.days !== undefined) el.dataset.days = String(view.days); else delete el.dataset.days;
  el.textContent = view.text;
  if (view.install) {
    el.append(" ");
    const a = document.createElement("a");
    a.href = installUrl;
    a.id = "status-install-link";
    a.textContent = t("installLink");
    el.append(a);
  }
}

let kagiPromise = null;
/** The connected library (once per page), or a rejection with EXTENSION_NOT_INSTALLED. */
export function connect() {
  if (!kagiPromise) kagiPromise = Kagi.connect({ timeoutMs: 3000, issuers });
  kagiPromise.catch(() => { kagiPromise = null; });
  return kagiPromise;
}

/** Fills the status box now and on every token change; returns the status (or null). */
export async function watchStatus(onChange) {
  let kagi;
  try {
    kagi = await connect();
  } catch (e) {
    renderStatus(describe(null, e.code || "EXTENSION_NOT_INSTALLED"));
    return null;
  }
  const refresh = async () => {
    try {
      const st = await kagi.status();
      renderStatus(describe(st));
      return st;
    } catch (e) {
      renderStatus(describe(null, e.code || "INTERNAL"));
      return null;
    }
  };
  kagi.onTokenChange(async (ev) => {
    if (onChange) onChange(ev);
    await refresh();
  });
  return refresh();
}
