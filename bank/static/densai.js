// The densai screens: registering a 譲渡記録請求, and approving one through Kagi's window. The
// page hands Kagi the bank's own rendering of the request (`tx` from /api/densai/challenge) and
// posts what Kagi returns; the bank checks it against its own record before approving.
import { api, connect } from "/static/bank.js";

const form = document.getElementById("densai-form");
if (form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("densai-error");
    err.hidden = true;
    const body = {};
    for (const [k, v] of new FormData(form)) body[k] = String(v).trim();
    try {
      const r = await api("/api/densai/transfer", body);
      location.assign("/densai/approve?id=" + encodeURIComponent(r.requestId));
    } catch (e) {
      err.textContent = e.code === "TX_INVALID" ? "入力内容をご確認ください（" + (e.message || "") + "）" : "登録できませんでした（" + e.code + "）";
      err.hidden = false;
    }
  });
}

const approve = document.getElementById("approve");
if (approve) {
  const button = document.getElementById("approve-button");
  const result = document.getElementById("approve-result");
  const requestId = approve.dataset.requestId;
  button.addEventListener("click", async () => {
    button.disabled = true;
    delete result.dataset.code;
    result.textContent = "専用USBで承認してください…";
    try {
      const { nonce, tx } = await api("/api/densai/challenge", { requestId });
      const kagi = await connect();
      const confirmation = await kagi.confirmTransaction({ nonce, tx });
      await api("/api/densai/confirm", { requestId, nonce, confirmation });
      result.textContent = "承認しました。";
      result.dataset.code = "APPROVED";
      document.getElementById("approve-status").textContent = "承認済み";
      button.hidden = true;
    } catch (e) {
      result.textContent = "承認できませんでした（" + (e.code || "ERROR") + "）";
      // The code for tests and support (CANCELLED, TX_MISMATCH, CARD_REMOVED, ...).
      result.dataset.code = e.code || "ERROR";
      button.disabled = false;
    }
  });
}
