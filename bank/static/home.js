// The logged-on page: pulling the token logs off (the bank's advice: connect before log-on,
// remove after log-off; a removed token must not leave a live session behind). With several
// tokens, only pulling the one whose certificate this session logged on with logs off.
import { api, connect, tokensOf, watchStatus, lang } from "/static/bank.js";

const norm = (s) => String(s ?? "").replace(/[^0-9a-fA-F]/g, "").toLowerCase().replace(/^0+(?=.)/, "");
const sessionSerial = norm(document.getElementById("cert-serial")?.textContent);

/** Whether a status() result still shows the certificate this session logged on with. */
function holdsSessionCertificate(st) {
  return tokensOf(st).some((t) => t.certificate && norm(t.certificate.serial) === sessionSerial);
}

let leaving = false;
async function logOffForRemoval() {
  if (leaving) return;
  leaving = true;
  try {
    await api("/api/logoff", {});
  } finally {
    location.assign("/?reason=token-removed" + (lang === "en" ? "&lang=en" : ""));
  }
}

async function checkAfterRemoval() {
  let st = null;
  try {
    st = await (await connect()).status();
  } catch {
    // The extension cannot tell: log off rather than keep a session without its token.
  }
  if (!st || st.host !== "ok" || !holdsSessionCertificate(st)) logOffForRemoval();
}

const st = await watchStatus((ev) => {
  if (ev.type === "removed") checkAfterRemoval();
});
// Removed while the page was loading: the extension answers, but no token is there.
if (st && st.host === "ok" && tokensOf(st).length === 0) logOffForRemoval();
