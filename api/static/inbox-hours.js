// Whether the business is open now (GET /api/v1/settings/business-hours/status): while it
// is closed, the top bar says so and when it reopens, so that an agent at the desk after
// hours knows the customers are getting the away messages.
import { $, api, boot, t } from "./inbox-core.js";

const EVERY_MS = 60000;

export function initHours() {
  show().catch((error) => console.debug(error));
  setInterval(() => show().catch((error) => console.debug(error)), EVERY_MS);
}

async function show() {
  const status = await api(`/api/v1/settings/business-hours/status?language=${boot.lang}`);
  const note = $("hours-note");
  note.hidden = status.open;
  note.dataset.open = String(status.open);
  if (status.open) return;
  const closed = status.holiday ? t("hours.holiday").replace("{holiday}", status.holiday) : t("hours.closed");
  const reopens = status.next_open_text ? ` · ${t("hours.reopens").replace("{when}", status.next_open_text)}` : "";
  note.textContent = `${closed}${reopens}`;
  note.title = t("hours.hint");
}
