// The team (GET /api/v1/agents): the colleagues a conversation can be handed to, the list
// filtered by, and @named in a note, with the names completed as they are typed.
import { $, api, boot, el, t } from "./inbox-core.js";

let team = [];
const handers = [];

/** Read the team again (someone's availability or workload changed) and redraw. */
export async function loadTeam() {
  team = await api("/api/v1/agents");
  fillFilter();
  for (const fill of handers) fill();
}

const label = (agent) =>
  `${agent.name}${agent.available ? " ●" : ""} (${t("team.open").replace("{n}", agent.open_conversations)})`;

/** A select that hands something to a colleague: ``hand(name)`` on choice, then back to
 * its first option (its title). */
export function handOver(select, hand) {
  const title = select.options[0];
  handers.push(() => select.replaceChildren(title,
    ...team.map((a) => el("option", { value: a.name }, label(a)))));
  select.addEventListener("change", () => {
    const name = select.value;
    select.value = "";
    if (name) hand(name);
  });
}

function fillFilter() {
  const filter = $("filter-assignee");
  const chosen = filter.value;
  const others = team.filter((a) => a.name !== boot.user);
  filter.querySelector("optgroup")?.remove();
  if (others.length) {
    filter.append(el("optgroup", { label: t("team.label") },
      others.map((a) => el("option", { value: a.name }, a.name))));
  }
  filter.value = chosen;
}

// --- @name completion in internal notes -----------------------------------------------

let box = null;
let inNote = () => false;
let active = 0;

/** ``replyBox`` is the reply/note textarea; ``inNoteMode()`` whether it writes a note. */
export function initCompletion(replyBox, inNoteMode) {
  box = replyBox;
  inNote = inNoteMode;
  box.addEventListener("input", suggest);
  box.addEventListener("click", suggest);
  box.addEventListener("keydown", onKey);
  box.addEventListener("blur", close);
}

/** The ``@prefix`` just before the caret, where a name is being typed. */
function typedName() {
  const before = box.value.slice(0, box.selectionStart);
  const found = /(?:^|[^\w@.])@([A-Za-z0-9._-]*)$/.exec(before);
  return found ? { prefix: found[1], start: box.selectionStart - found[1].length - 1 } : null;
}

function matches() {
  const typed = inNote() ? typedName() : null;
  if (typed === null) return [];
  const prefix = typed.prefix.toLowerCase();
  return team.filter((a) => a.name !== boot.user && a.name.toLowerCase().startsWith(prefix)).slice(0, 8);
}

function suggest() {
  const found = matches();
  const list = $("mention-suggest");
  if (!found.length) return close();
  active = Math.min(active, found.length - 1);
  list.replaceChildren(...found.map((a, i) => el("li", {
    role: "option",
    id: `mention-option-${i}`,
    "data-name": a.name,
    "aria-selected": String(i === active),
    onmousedown: (event) => { event.preventDefault(); accept(a.name); }, // before the blur
  }, `@${a.name}`)));
  list.hidden = false;
  box.setAttribute("aria-activedescendant", `mention-option-${active}`);
}

function close() {
  $("mention-suggest").hidden = true;
  box.removeAttribute("aria-activedescendant");
  active = 0;
}

function accept(name) {
  const typed = typedName();
  if (typed === null) return close();
  const end = box.selectionStart;
  box.value = `${box.value.slice(0, typed.start)}@${name} ${box.value.slice(end)}`;
  const caret = typed.start + name.length + 2;
  box.setSelectionRange(caret, caret);
  close();
  box.dispatchEvent(new Event("input")); // as if typed: the others listening to the box
}

function onKey(event) {
  const list = $("mention-suggest");
  if (list.hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  const options = list.querySelectorAll("li");
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key in moves) {
    active = (active + moves[event.key] + options.length) % options.length;
    suggest();
  } else if (event.key === "Enter" || event.key === "Tab") {
    accept(options[active].dataset.name);
  } else if (event.key === "Escape") {
    close();
  } else {
    return;
  }
  event.preventDefault();
  event.stopPropagation(); // not the inbox's shortcuts (Escape leaves the box)
}
