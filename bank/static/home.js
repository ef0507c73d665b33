// The logged-on page: pulling the token logs off (the bank's advice: connect before log-on,
// remove after log-off; a removed token must not leave a live session behind).
import { api, watchStatus, lang } from "/static/bank.js";

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

const st = await watchStatus((ev) => {
  if (ev.type === "removed") logOffForRemoval();
});
// Removed while the page was loading: the extension answers, but no token is there.
if (st && st.host === "ok" && !st.token) logOffForRemoval();
