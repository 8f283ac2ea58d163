// The macros page: the shared macros (admins write them, every agent applies them) and the
// agent's own (only they see and apply them), each saved or deleted on its own.
"use strict";

const MACRO_STATUSES = ["open", "pending", "resolved"];
const NEW_MACRO = { id: null, name: "", reply: null, note: null, add_tags: [], priority: null, take: false, status: null, snooze_for: null };
const WRITES_SHARED = boot.role === "admin";
const listOf = (personal) => $(personal ? "my-macros" : "shared-macros");

/** A macro's form; a shared one is read-only to an agent. */
function macroCard(m) {
  const card = el("fieldset", { class: "rule", "data-macro": m.id ?? "new", disabled: !(m.personal || WRITES_SHARED) },
    el("legend", {}, m.name || t("set.new_macro")),
    el("div", { class: "fields" }, textField(t("set.name"), m.name, "name", { size: 24 })),
    errorBox("name"),
    el("label", { class: "text-field" }, t("set.macro_reply"), el("textarea", { rows: 2, "data-name": "reply" }, m.reply || "")),
    errorBox("reply"),
    el("label", { class: "text-field" }, t("set.macro_note"), el("textarea", { rows: 1, "data-name": "note" }, m.note || "")),
    el("div", { class: "fields" },
      listField(t("set.add_tags"), m.add_tags, "add_tags", { size: 16 }),
      el("label", {}, t("set.macro_priority"), " ", choice("priority", m.priority, [0, 1, 2, 3].map((p) => [p, t(`priority.${p}`)]), t("set.macro_priority"), t("set.unchanged"))),
      el("label", {}, t("set.macro_status"), " ", choice("status", m.status, MACRO_STATUSES.map((s) => [s, t(`status.${s}`)]), t("set.macro_status"), t("set.unchanged"))),
      textField(t("set.macro_snooze"), m.snooze_for, "snooze_for", { size: 5, placeholder: "1d" }),
      el("label", { class: "check" }, el("input", { type: "checkbox", "data-name": "take", checked: m.take }), t("set.macro_take"))),
    errorBox("snooze_for"),
    el("p", { class: "form-error", "data-error": "", hidden: true }),
    m.personal || WRITES_SHARED ? el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", onclick: () => saveMacro(card, m) }, t("set.save")), " ",
      m.id === null ? null : el("button", { type: "button", class: "small ghost", onclick: () => deleteMacro(m.id) }, t("set.remove_macro")),
      " ", el("span", { class: "saved", role: "status", hidden: true })) : null);
  return card;
}

function readMacro(card, personal) {
  const value = (name) => card.querySelector(`[data-name="${name}"]`).value.trim();
  return {
    name: value("name"),
    reply: value("reply") || null,
    note: value("note") || null,
    add_tags: value("add_tags").split(",").map((tag) => tag.trim()).filter(Boolean),
    priority: value("priority") === "" ? null : Number(value("priority")),
    status: value("status") || null,
    snooze_for: value("snooze_for") || null,
    take: card.querySelector('[data-name="take"]').checked,
    personal,
  };
}

async function saveMacro(card, m) {
  clearErrors(card);
  try {
    const path = m.id === null ? "/api/v1/macros" : `/api/v1/macros/${m.id}`;
    const body = readMacro(card, m.personal);
    const stored = await api(path, { method: m.id === null ? "POST" : "PUT", body });
    await loadMacros();
    flash(listOf(stored.personal).querySelector(`[data-macro="${stored.id}"] .saved`), t("set.saved"));
  } catch (error) {
    showErrors(card, error);
  }
}

async function deleteMacro(id) {
  await api(`/api/v1/macros/${id}`, { method: "DELETE" });
  await loadMacros();
}

async function loadMacros() {
  const macros = await api("/api/v1/macros");
  for (const personal of [false, true]) {
    listOf(personal).replaceChildren(...macros.filter((m) => m.personal === personal).map(macroCard));
  }
  $("shared-none").hidden = macros.some((m) => !m.personal);
}

for (const personal of [false, true]) {
  $(personal ? "mine-add" : "shared-add")?.addEventListener("click", () => {
    const card = macroCard({ ...NEW_MACRO, personal });
    listOf(personal).append(card);
    card.querySelector('[data-name="name"]').focus();
  });
}

loadMacros().catch((error) => console.error(error)).finally(() => {
  document.body.dataset.loaded = "true";
});
