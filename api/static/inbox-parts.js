// How a long reply will go out: as several messages, and a public X reply as numbered
// posts cut as X counts (a link weighs 23, an emoji 2). The server is asked once the agent
// pauses typing; the hint shows only when the reply will be cut.
import { $, api, t } from "./inbox-core.js";

// No channel cuts a shorter text: on X, 280 takes at least 59 characters (12 short links).
const SHORTEST_CUT = 50;
const PAUSE_MS = 300;

let timer = null;
let asked = 0;

export function hideParts() {
  clearTimeout(timer);
  asked += 1; // an answer still on its way is for a text no longer there
  $("reply-parts").hidden = true;
}

/** ``current()`` is the conversation being answered, or null when the box takes a note. */
export function initParts(current) {
  $("reply-text").addEventListener("input", () => {
    hideParts();
    const conversation = current();
    const text = $("reply-text").value.trim();
    if (!conversation || text.length < SHORTEST_CUT) return;
    const ask = asked;
    timer = setTimeout(() => showParts(conversation, text, ask), PAUSE_MS);
  });
}

async function showParts(conversation, text, ask) {
  let parts;
  try {
    ({ parts } = await api(`/api/v1/conversations/${conversation.id}/parts`,
      { method: "POST", body: { text } }));
  } catch {
    return; // a hint only: sending reports its own errors
  }
  if (ask !== asked || parts < 2) return;
  const posts = conversation.channel === "x" && conversation.public;
  const hint = $("reply-parts");
  hint.textContent = t(posts ? "reply.parts_posts" : "reply.parts_messages").replace("{n}", String(parts));
  hint.hidden = false;
}
