// Desktop notifications, for an agent whose inbox is behind other windows: a customer
// writing in one of my conversations or in one nobody has, a note naming me, a conversation
// automatic assignment or a colleague gave me. Not while the inbox is in front showing that conversation.
// A click brings the inbox forward on it. Switched on with the top bar's box (the browser
// asks for its permission once); the choice is kept in this browser.
import { $, api, boot, t } from "./inbox-core.js";

const KEY = "sportello.notify";
let open = () => {};
let current = () => null;

/** ``onOpen(id)`` opens a conversation; ``selected()`` is the one open now. */
export function initNotify({ onOpen, selected }) {
  open = onOpen;
  current = selected;
  const box = $("notify");
  if (!("Notification" in window)) {
    box.closest("label").hidden = true;
    return;
  }
  box.checked = localStorage.getItem(KEY) === "on" && Notification.permission === "granted";
  box.addEventListener("change", () => toggle(box).catch((error) => console.error(error)));
}

async function toggle(box) {
  if (!box.checked) {
    localStorage.removeItem(KEY);
    box.title = "";
    return;
  }
  const permission = Notification.permission === "default"
    ? await Notification.requestPermission() : Notification.permission;
  box.checked = permission === "granted";
  box.title = box.checked ? "" : t("notify.blocked");
  if (box.checked) localStorage.setItem(KEY, "on");
}

const enabled = () => $("notify").checked && Notification.permission === "granted";
const inFront = (id) => document.visibilityState === "visible" && document.hasFocus() && current() === id;

/** A live ``message.created``: a customer's message in mine, or in one nobody has. */
export async function customerWrote(data) {
  if (!enabled() || data.direction !== "in" || inFront(data.conversation_id)) return;
  const conversation = await api(`/api/v1/conversations/${data.conversation_id}`);
  if (conversation.assignee !== null && conversation.assignee !== boot.user) return;
  show(conversation, conversation.customer_name || t("notify.customer"), conversation.last_message || "");
}

/** A live ``note.mention``. */
export async function mentionedMe(data) {
  if (!enabled() || data.name !== boot.user || inFront(data.conversation_id)) return;
  const conversation = await api(`/api/v1/conversations/${data.conversation_id}`);
  show(conversation, t("notify.mention").replace("{author}", data.author), conversation.customer_name || "");
}

const AUTOMATIC = new Set(["assignment", "rules"]); // automatic assignment, a triage rule

/** Automatic assignment, a triage rule or a colleague gave me a conversation. */
export async function givenToMe(id, actor) {
  if (!enabled() || inFront(id)) return;
  const conversation = await api(`/api/v1/conversations/${id}`);
  const title = AUTOMATIC.has(actor) ? t("notify.assigned") : t("notify.given").replace("{actor}", actor);
  show(conversation, title, `${conversation.customer_name || ""}: ${conversation.last_message || ""}`);
}

function show(conversation, title, body) {
  const notification = new Notification(title, {
    body: body.length > 160 ? `${body.slice(0, 159)}…` : body,
    tag: `conversation-${conversation.id}`, // a newer one replaces it
    lang: boot.lang,
  });
  notification.addEventListener("click", () => {
    window.focus();
    notification.close();
    open(conversation.id);
  });
}
