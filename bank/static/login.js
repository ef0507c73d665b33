// ログオン: challenge → extension (PIN in its own window) → signed token → bank verifies.
import { api, bankCertificate, connect, hideError, showError, t, tokensOf, watchStatus, lang } from "/static/bank.js";

const button = document.getElementById("logon-button");
const errorEl = document.getElementById("logon-error");
const progress = document.getElementById("logon-progress");

watchStatus();

button.addEventListener("click", async () => {
  hideError(errorEl);
  button.disabled = true;
  try {
    const kagi = await connect();
    const st = await kagi.status();
    if (st.host !== "ok") throw { code: st.host };
    if (tokensOf(st).length === 0) throw { code: "TOKEN_ABSENT" };
    if (!bankCertificate(st)) throw { code: "NO_CERTIFICATE" };
    progress.hidden = false;
    progress.textContent = t("logonProgress");
    const { nonce } = await api("/api/nonce", {});
    const token = await kagi.authenticate(nonce);
    const r = await api("/api/login", { nonce, token });
    location.assign(r.redirect + (lang === "en" ? "?lang=en" : ""));
  } catch (e) {
    progress.hidden = true;
    showError(errorEl, e.code || "INTERNAL", e.retries);
  } finally {
    button.disabled = false;
  }
});
