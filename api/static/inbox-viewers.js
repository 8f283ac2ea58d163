// Who else is here: two agents answering one customer at once send two answers. The inbox
// says which conversation it shows (on opening one, every 20 s, and every 3 s while its
// agent types a reply: PUT /api/v1/me/viewing), none while the tab is in the background,
// and shows the other agents in it.
import { $, api, el, t } from "./inbox-core.js";

const HEARTBEAT_MS = 20000;
const TYPING_EVERY_MS = 3000;
const TYPING_IDLE_MS = 5000; // no key for this long: no longer typing

const here = { open: null, typingSince: 0, idle: null, isReplying: () => false };

/** ``isReplying()`` says whether the reply box writes to the customer (not a note). */
export function initViewers({ replyBox, isReplying }) {
  here.isReplying = isReplying;
  replyBox.addEventListener("input", () => typed(replyBox.value));
  setInterval(() => here.open !== null && !document.hidden && say(typing()), HEARTBEAT_MS);
  document.addEventListener("visibilitychange", awayOrBack);
}

/** A tab in the background (another tab in front, the window minimised) is not there: the
 * others see its agent leave, and come back when it is in front again. */
function awayOrBack() {
  if (here.open === null) return;
  if (document.hidden) {
    endTyping();
    put(null, false);
  } else {
    say(false);
    showViewers().catch((error) => console.debug(error));
  }
}

/** The inbox now shows conversation ``id`` (null: none). */
export function viewing(id) {
  if (id === here.open) return;
  here.open = id;
  endTyping();
  $("thread-viewers").replaceChildren();
  say(false);
}

/** The reply went out: the agent is no longer typing it. */
export function replied() {
  if (typing()) {
    endTyping();
    say(false);
  }
}

/** A live ``conversation.viewers`` event: someone came, left, or typed. */
export function viewersChanged(data) {
  if (data.conversation_id === here.open) showViewers();
}

export async function showViewers() {
  const id = here.open;
  if (id === null) return;
  const viewers = await api(`/api/v1/conversations/${id}/viewers`).catch(() => []);
  if (id !== here.open) return;
  $("thread-viewers").replaceChildren(...viewers.map((v) =>
    el("span", { class: v.typing ? "viewer typing" : "viewer", "data-viewer": v.name },
      t(v.typing ? "viewers.typing" : "viewers.here").replace("{name}", v.name))));
}

function typing() {
  return here.typingSince > 0;
}

function typed(text) {
  clearTimeout(here.idle);
  if (!here.isReplying() || !text.trim()) {
    replied();
    return;
  }
  const first = !typing();
  if (first || Date.now() - here.typingSince > TYPING_EVERY_MS) {
    here.typingSince = Date.now();
    say(true);
  }
  here.idle = setTimeout(replied, TYPING_IDLE_MS);
}

function endTyping() {
  clearTimeout(here.idle);
  here.typingSince = 0;
}

function say(isTyping) {
  put(here.open, isTyping);
}

function put(id, isTyping) {
  const body = { conversation_id: id, typing: isTyping };
  api("/api/v1/me/viewing", { method: "PUT", body }).catch((error) => console.debug(error));
}
