// Canned replies: a picker in the reply box (the server fills {name} and {next_open} when
// it sends) and, for admins, a small manager to create, edit and delete them.
import { $, api, confirmAction, el, t } from "./inbox-core.js";

let replies = [];
let editing = null; // the canned reply being edited in the manager, or null for a new one

export async function loadCanned() {
  replies = (await api("/api/v1/canned-replies")).items;
  renderPicker();
  if ($("canned-dialog")?.open) renderManager();
}

/** The canned reply chosen in the reply box, or null when the agent writes freely. */
export function chosenCanned() {
  const id = Number($("canned-select").value);
  return replies.find((r) => r.id === id) || null;
}

export function clearCanned() {
  $("canned-select").value = "";
  showChoice();
}

function renderPicker() {
  const select = $("canned-select");
  const chosen = select.value;
  select.replaceChildren(
    el("option", { value: "" }, t("canned.pick")),
    ...replies.map((r) => el("option", { value: r.id }, r.language ? `${r.title} (${r.language})` : r.title)));
  select.value = replies.some((r) => String(r.id) === chosen) ? chosen : "";
  showChoice();
}

function showChoice() {
  const reply = chosenCanned();
  const preview = $("canned-preview");
  preview.hidden = !reply;
  $("reply-text").hidden = Boolean(reply);
  if (reply) {
    preview.replaceChildren(
      el("span", { class: "canned-label" }, t("canned.will_send")),
      el("span", { class: "canned-text" }, reply.text),
      el("button", { type: "button", class: "link", onclick: clearCanned }, t("canned.cancel")));
  }
}

// --- the manager ----------------------------------------------------------------------

function renderManager() {
  $("canned-list").replaceChildren(
    ...replies.map((r) =>
      el("li", { "data-id": r.id },
        el("div", {}, el("strong", {}, r.title), r.language ? el("small", {}, ` (${r.language})`) : null,
           el("p", { class: "canned-text" }, r.text)),
        el("span", { class: "row" },
          el("button", { type: "button", class: "ghost", onclick: () => edit(r) }, t("canned.edit")),
          el("button", { type: "button", class: "ghost danger", onclick: () => remove(r) }, t("canned.delete"))))),
    ...(replies.length ? [] : [el("li", { class: "empty small" }, t("canned.none"))]));
}

function edit(reply) {
  editing = reply;
  $("canned-title").value = reply?.title ?? "";
  $("canned-body").value = reply?.text ?? "";
  $("canned-language").value = reply?.language ?? "";
  $("canned-save").textContent = reply ? t("canned.save") : t("canned.create");
  $("canned-form-error").hidden = true;
  $("canned-title").focus();
}

async function remove(reply) {
  if (!(await confirmAction(t("canned.delete_confirm").replace("{title}", reply.title), { danger: true, action: t("canned.delete") }))) return;
  await api(`/api/v1/canned-replies/${reply.id}`, { method: "DELETE" });
  if (editing?.id === reply.id) edit(null);
  await loadCanned();
}

async function save(event) {
  event.preventDefault();
  const body = {
    title: $("canned-title").value.trim(),
    text: $("canned-body").value.trim(),
    language: $("canned-language").value || null,
  };
  try {
    if (editing) await api(`/api/v1/canned-replies/${editing.id}`, { method: "PUT", body });
    else await api("/api/v1/canned-replies", { method: "POST", body });
  } catch (error) {
    $("canned-form-error").textContent = error.message;
    $("canned-form-error").hidden = false;
    return;
  }
  edit(null);
  await loadCanned();
}

export function initCanned() {
  $("canned-select").addEventListener("change", showChoice);
  if ($("canned-manage")) { // admins only
    $("canned-form").addEventListener("submit", save);
    $("canned-new").addEventListener("click", () => edit(null));
    $("canned-manage").addEventListener("click", () => {
      renderManager();
      edit(null);
      $("canned-dialog").showModal();
    });
  }
  loadCanned().catch((error) => console.error(error));
}
