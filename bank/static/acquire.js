// 【専用USBに保存する】: the extension makes a key and a CSR on the token (PIN in its own
// window), the bank's CA issues, the extension stores the certificate.
import { api, connect, hasText, hideError, showError, t, tokensOf, watchStatus, lang } from "/static/bank.js";

const button = document.getElementById("save-usb-button");
const errorEl = document.getElementById("acquire-error");
const progress = document.getElementById("acquire-progress");

watchStatus();

function say(text, step) {
  progress.hidden = false;
  progress.textContent = text;
  if (step) progress.dataset.step = step;
}

button.addEventListener("click", async () => {
  hideError(errorEl);
  button.disabled = true;
  say(t("saving"), "start");
  try {
    const kagi = await connect();
    const st = await kagi.status();
    if (st.host !== "ok") throw { code: st.host };
    if (tokensOf(st).length === 0) throw { code: "TOKEN_ABSENT" };
    await kagi.acquireCertificate({
      algorithm: "P-256",
      // The token's key attestation, when it has one, goes with the CSR (a bank may require it).
      submitCsr: async (csr, attestation) => (await api("/api/csr", { csr, ...attestation })).certificate,
      // A step this page has no words for (a newer extension) keeps the general message.
      onProgress: ({ step }) => say(t(hasText("step_" + step) ? "step_" + step : "saving"), step),
    });
    say(t("step_done"), "done");
    location.assign("/acquire/complete" + (lang === "en" ? "?lang=en" : ""));
  } catch (e) {
    progress.hidden = true;
    showError(errorEl, e.code || "INTERNAL", e.retries);
    button.disabled = false;
  }
});
