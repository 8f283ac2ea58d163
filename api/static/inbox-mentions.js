// Notes that name me (@bob): how many wait is shown beside the live status; a click lists
// them, and opening a conversation marks its mentions read (GET/POST /api/v1/me/mentions).
import { $, api, boot, el, formatTime, t } from "./inbox-core.js";

let unread = [];
let open = () => {};
let current = () => null;

/** ``onOpen(id)`` opens a conversation; ``selected()`` is the one open now. */
export function initMentions({ onOpen, selected }) {
  open = onOpen;
  current = selected;
  $("mentions-note").addEventListener("click", showList);
  refresh().catch((error) => console.error(error));
}

/** A live ``note.mention`` event. */
export async function mentioned(data) {
  if (data.name !== boot.user) return;
  await refresh();
  if (data.conversation_id === current()) await seen(data.conversation_id); // read as it came
}

/** The agent opened conversation ``id``: its mentions are read. */
export async function seen(id) {
  if (!unread.some((m) => m.conversation_id === id)) return;
  await api("/api/v1/me/mentions/read", { method: "POST", body: { conversation_id: id } });
  await refresh();
}

async function refresh() {
  unread = await api("/api/v1/me/mentions?unread=true");
  const note = $("mentions-note");
  note.textContent = `${t("mentions.note")}: ${unread.length}`;
  note.hidden = !unread.length;
}

async function showList() {
  const all = await api("/api/v1/me/mentions");
  const items = all.map((m) => el("li", { class: m.read_at ? "mention" : "mention unread" },
    el("button", { type: "button", class: "mention-open", onclick: () => {
      $("mentions-dialog").close();
      open(m.conversation_id);
    } },
      el("span", { class: "meta" }, el("strong", {}, m.author), " · ",
        el("time", { datetime: m.created_at }, formatTime(m.created_at))),
      el("span", { class: "snippet" }, m.text))));
  $("mentions-list").replaceChildren(...(items.length ? items : [el("li", { class: "empty small" }, t("mentions.none"))]));
  $("mentions-dialog").showModal();
}
