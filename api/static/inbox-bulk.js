// Bulk actions: agents pick conversations in the list (a box each, or `x` on the open one)
// and resolve, assign (to themselves or a colleague), unassign them or give them to a team
// together (POST /api/v1/conversations/bulk), or run a macro on each of them
// (POST /api/v1/macros/{id}/apply: the ones whose platform refuses its reply now stay picked).
import { $, api, boot, el, t } from "./inbox-core.js";
import { handOver } from "./inbox-team.js";

const picked = new Set();
let onDone = async () => {};

export function initBulk({ done }) {
  onDone = done;
  $("bulk-resolve").addEventListener("click", () => apply({ status: "resolved" }));
  $("bulk-mine").addEventListener("click", () => apply({ assignee: boot.user }));
  $("bulk-unassign").addEventListener("click", () => apply({ assignee: null }));
  handOver($("bulk-hand"), (name) => apply({ assignee: name }));
  $("bulk-clear").addEventListener("click", () => {
    picked.clear();
    refresh();
  });
}

/** The box that picks conversation ``c`` (named for screen readers). */
export function pickBox(c, name) {
  return el("input", {
    type: "checkbox",
    class: "pick",
    "data-pick": c.id,
    checked: picked.has(c.id),
    "aria-label": `${t("bulk.pick")} ${name}`,
    onchange: (event) => {
      if (event.target.checked) picked.add(c.id);
      else picked.delete(c.id);
      $("bulk-error").hidden = true;
      showBar();
    },
  });
}

export function togglePick(id) {
  if (picked.has(id)) picked.delete(id);
  else picked.add(id);
  refresh();
}

/** Forget picks no longer in the list (resolved, filtered out), then show the bar. */
export function keepPicks(ids) {
  for (const id of [...picked]) if (!ids.has(id)) picked.delete(id);
  showBar();
}

function refresh() {
  for (const box of document.querySelectorAll("#conversation-list input.pick")) {
    box.checked = picked.has(Number(box.dataset.pick));
  }
  $("bulk-error").hidden = true;
  showBar();
}

function showBar() {
  $("bulk-bar").hidden = picked.size === 0;
  $("bulk-count").textContent = `${picked.size} ${t("bulk.selected")}`;
}

/** Apply ``changes`` to the picked conversations (the teams' picker calls it too). */
export async function apply(changes) {
  await run(async () => {
    await api("/api/v1/conversations/bulk", { method: "POST", body: { ids: [...picked], ...changes } });
    return [];
  });
}

/** Run macro ``id`` on the picked conversations; the ones it left as they were stay picked. */
export async function applyMacro(id) {
  await run(async () => {
    const result = await api(`/api/v1/macros/${id}/apply`, { method: "POST", body: { ids: [...picked] } });
    return result.refused;
  });
}

/** ``request()`` answers the refused ``[{id, reason}]``: they stay picked, their reasons shown. */
async function run(request) {
  try {
    const refused = await request();
    picked.clear();
    for (const { id } of refused) picked.add(id);
    refresh(); // the boxes too: the list shows them ticked until it reloads otherwise
    if (refused.length) {
      const reasons = [...new Set(refused.map((r) => r.reason))].join("; ");
      showError(`${t("bulk.refused").replace("{count}", refused.length)} ${reasons}`);
    }
    await onDone();
  } catch (error) {
    showError(`${t("error.generic")} ${error.message}`);
  }
}

function showError(text) {
  $("bulk-error").textContent = text;
  $("bulk-error").hidden = false;
}
