// Macros: a picker in the conversation's controls runs every step of one (a reply, a note,
// tags, a priority, taking it, a status or a snooze) in one go, as the agent's own changes.
import { api, el, t } from "./inbox-core.js";

let macros = [];

/** ``conversation()`` is the one open now; ``done(error)`` redraws, showing a refusal. */
export function initMacros(select, { conversation, done }) {
  select.addEventListener("change", async () => {
    const id = select.value;
    select.value = "";
    const open = conversation();
    if (!id || !open) return;
    try {
      await api(`/api/v1/conversations/${open.id}/macros/${id}`, { method: "POST" });
      await done(null);
    } catch (error) {
      await done(error);
    }
  });
  loadMacros(select).catch((error) => console.error(error));
}

async function loadMacros(select) {
  macros = await api("/api/v1/macros");
  select.replaceChildren(el("option", { value: "" }, t("macro.pick")),
    ...macros.map((m) => el("option", { value: m.id, title: summary(m) }, m.name)));
  select.hidden = macros.length === 0;
}

/** What a macro does, in a few words (the option's tooltip). */
function summary(m) {
  return [m.reply && `${t("macro.reply")}: ${m.reply}`, m.note && t("macro.note"),
    m.add_tags.length && m.add_tags.map((tag) => `+${tag}`).join(" "),
    m.priority !== null && t(`priority.${m.priority}`), m.take && t("macro.take"),
    m.status && t(`status.${m.status}`), m.snooze_for && `${t("status.snoozed")} ${m.snooze_for}`]
    .filter(Boolean).join(" · ");
}

