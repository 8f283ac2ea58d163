// Macros: a picker in the conversation's controls runs every step of one (a reply, a note,
// tags, a priority, taking it, a status or a snooze) in one go, as the agent's own changes;
// the bulk bar's picker runs one on every picked conversation. The agent's own macros
// (written on the macros page) come after the shared ones.
import { api, el, t } from "./inbox-core.js";

let macros = [];

/** ``conversation()`` is the one open now; ``done(error)`` redraws, showing a refusal;
 * ``applyMany(id)`` runs macro ``id`` on the picked conversations. */
export function initMacros(select, bulkSelect, { conversation, done, applyMany }) {
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
  bulkSelect.addEventListener("change", () => {
    const id = bulkSelect.value;
    bulkSelect.value = "";
    if (id) applyMany(id);
  });
  loadMacros([[select, "macro.pick"], [bulkSelect, "macro.bulk"]]).catch((error) => console.error(error));
}

async function loadMacros(pickers) {
  macros = await api("/api/v1/macros");
  const option = (m) => el("option", { value: m.id, title: summary(m) }, m.name);
  const mine = macros.filter((m) => m.personal);
  for (const [select, prompt] of pickers) {
    select.replaceChildren(el("option", { value: "" }, t(prompt)),
      ...macros.filter((m) => !m.personal).map(option),
      mine.length ? el("optgroup", { label: t("macro.mine") }, ...mine.map(option)) : null);
    select.hidden = macros.length === 0;
  }
}

/** What a macro does, in a few words (the option's tooltip). */
function summary(m) {
  return [m.reply && `${t("macro.reply")}: ${m.reply}`, m.note && t("macro.note"),
    m.add_tags.length && m.add_tags.map((tag) => `+${tag}`).join(" "),
    m.priority !== null && t(`priority.${m.priority}`), m.take && t("macro.take"),
    m.status && t(`status.${m.status}`), m.snooze_for && `${t("status.snoozed")} ${m.snooze_for}`]
    .filter(Boolean).join(" · ");
}

