// The logged-on page: pulling the token logs off (the bank's advice: connect before log-on,
// remove after log-off; a removed token must not leave a live session behind).
import { api, watchStatus, lang } from "/static/bank.js";

let leaving = false;
watchStatus(async (ev) => {
  if (ev.type !== "removed" || leaving) return;
  leaving = true;
  try {
    await api("/api/logoff", {});
  } finally {
    location.assign("/?reason=token-removed" + (lang === "en" ? "&lang=en" : ""));
  }
});
