// The customer pane: who they are on every channel, a cross-channel timeline, their
// conversations, link suggestions, merge/split, the audit trail and (admins) export/erase.
import {
  $, api, channelBadge, confirmAction, customerName, el, formatTime, isAdmin, t,
} from "./inbox-core.js";

const TIMELINE_PAGE = 10;
const panel = {
  customer: null,
  currentConversation: null,
  timeline: [],
  timelineCursor: null,
  closed: new Set(["edit", "conversations", "merge", "audit", "admin"]), // folded by the agent
  mergeQuery: "",
  mergeResults: [],
  onOpen: () => {},
  onChanged: () => {},
};

/** ``onOpen(conversationId, messageId?)`` opens a conversation; ``onChanged()`` reloads. */
export function initCustomerPanel({ onOpen, onChanged }) {
  panel.onOpen = onOpen;
  panel.onChanged = onChanged;
}

/** Show (or refresh) a customer; keeps folded sections and a half-typed merge search. */
export async function showCustomer(customer, conversationId) {
  const same = panel.customer?.id === customer.id;
  if (!same) {
    panel.mergeQuery = "";
    panel.mergeResults = [];
  }
  const shown = same ? Math.max(TIMELINE_PAGE, panel.timeline.length) : TIMELINE_PAGE;
  const [timeline, suggestions, audit] = await Promise.all([
    api(`/api/v1/customers/${customer.id}/timeline?limit=${Math.min(shown, 200)}`),
    api(`/api/v1/customers/suggestions?customer_id=${customer.id}`),
    api(`/api/v1/customers/${customer.id}/audit?limit=20`),
  ]);
  panel.customer = customer;
  panel.currentConversation = conversationId;
  panel.timeline = timeline.items;
  panel.timelineCursor = timeline.next_cursor;
  const typing = $("customer").contains(document.activeElement) && document.activeElement.matches("input");
  if (typing) return; // do not pull the box out from under the agent's fingers
  if (same && unsavedDetails()) return; // nor what they wrote and have not saved
  render(await withNames(suggestions.items), audit.items);
}

export function clearCustomer() {
  panel.customer = null;
  $("customer").replaceChildren();
}

async function withNames(suggestions) {
  const me = panel.customer.id;
  return Promise.all(suggestions.map(async (s) => {
    const otherId = s.customer_id === me ? s.other_id : s.customer_id;
    const other = await api(`/api/v1/customers/${otherId}`).catch(() => null);
    return { ...s, other };
  }));
}

function section(key, title, ...content) {
  const details = el("details", { class: `section section-${key}`, open: !panel.closed.has(key) },
    el("summary", {}, title), ...content);
  details.addEventListener("toggle", () => {
    if (details.open) panel.closed.delete(key);
    else panel.closed.add(key);
  });
  return details;
}

function render(suggestions, audit) {
  const c = panel.customer;
  const details = [["customer.language", c.language], ["customer.phone", c.phone],
                   ["customer.email", c.email]].filter(([, v]) => v);
  $("customer").replaceChildren(...[
    el("p", { class: "customer-name" }, customerName(c)),
    details.length ? el("dl", { class: "details" }, details.map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)])) : null,
    el("h3", {}, t("customer.identities")),
    el("ul", { class: "identities" }, c.identities.map((i) =>
      el("li", { "data-id": i.id },
        channelBadge(i.channel), " ",
        el("span", { class: "who" }, i.handle ? `@${i.handle}` : i.display_name || ""), " ",
        el("small", {}, i.phone || i.external_id),
        c.identities.length > 1
          ? el("button", { type: "button", class: "link unmerge", title: t("customer.unmerge_hint"),
                           onclick: () => unmerge(i) }, t("customer.unmerge"))
          : null))),
    suggestions.length ? renderSuggestions(suggestions) : null,
    section("edit", t("customer.edit"), renderEdit()),
    section("timeline", t("customer.timeline"), renderTimeline()),
    section("conversations", `${t("customer.history")} (${c.conversations.length})`, renderHistory()),
    section("merge", t("customer.merge"), renderMerge()),
    section("audit", t("customer.audit"), renderAudit(audit)),
    isAdmin ? section("admin", t("customer.admin"), renderAdmin()) : null,
  ].filter(Boolean));
}

// --- details ------------------------------------------------------------------------

const EDITABLE = [
  ["display_name", "customer.name", "text"],
  ["language", "customer.language", "text"],
  ["phone", "customer.phone", "tel"],
  ["email", "customer.email", "email"],
];

function renderEdit() {
  const c = panel.customer;
  const form = el("form", { id: "customer-edit", class: "customer-edit", novalidate: true },
    el("p", { class: "hint" }, t("customer.edit_hint")),
    EDITABLE.map(([name, label, type]) => el("label", {}, t(label), " ", el("input", {
      name, type, value: c[name] || "", "data-shown": c[name] || "", size: 18,
      placeholder: name === "language" ? t("customer.language_hint") : null,
    }))),
    el("button", { type: "submit" }, t("customer.save")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveDetails(form);
  });
  return form;
}

// Whether the agent changed a field since the form was drawn (``data-shown``).
function unsavedDetails() {
  const form = $("customer-edit");
  return Boolean(form) && EDITABLE.some(([name]) => {
    const input = form.elements.namedItem(name);
    return input.value !== input.dataset.shown;
  });
}

// Only the fields the agent changed are sent: one untouched stays as the platform left it.
async function saveDetails(form) {
  const c = panel.customer;
  const change = {};
  for (const [name] of EDITABLE) {
    const value = form.elements.namedItem(name).value.trim();
    if (value !== (c[name] || "").trim()) change[name] = value || null;
  }
  if (!Object.keys(change).length) return;
  const error = $("customer-error");
  let saved;
  try {
    saved = await api(`/api/v1/customers/${c.id}`, { method: "PATCH", body: change });
  } catch (failure) { // the form keeps what was typed, to be corrected
    error.textContent = `${t("error.generic")} ${failure.message}`;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  for (const [name] of EDITABLE) { // as stored: drawn again with the live updates
    const input = form.elements.namedItem(name);
    input.value = input.dataset.shown = saved[name] || "";
  }
  document.activeElement?.blur(); // the pane redraws only without focus in it
  await panel.onChanged();
}

// --- timeline -----------------------------------------------------------------------

function renderTimeline() {
  const items = panel.timeline.map((m) =>
    el("li", { class: `timeline-item ${m.direction}${m.conversation_id === panel.currentConversation ? " current" : ""}` },
      el("button", { type: "button", class: "timeline-open", onclick: () => panel.onOpen(m.conversation_id, m.id) },
        el("span", { class: "row meta" }, channelBadge(m.channel),
           el("span", { title: t(`author.${m.author}`), "aria-label": t(`author.${m.author}`) },
              m.direction === "in" ? "←" : "→"),
           el("time", { datetime: m.sent_at }, formatTime(m.sent_at))),
        el("span", { class: "snippet" }, m.text || m.attachments.map((a) => `[${a.kind}]`).join(" ")))));
  return [
    el("ol", { id: "timeline", class: "timeline" }, items.length ? items : el("li", { class: "empty small" }, t("customer.no_messages"))),
    panel.timelineCursor
      ? el("button", { type: "button", id: "timeline-more", class: "ghost more", onclick: moreTimeline }, t("list.more"))
      : null,
  ];
}

async function moreTimeline(event) {
  event.target.disabled = true;
  const params = new URLSearchParams({ limit: String(TIMELINE_PAGE), cursor: panel.timelineCursor });
  const page = await api(`/api/v1/customers/${panel.customer.id}/timeline?${params}`);
  panel.timeline = panel.timeline.concat(page.items);
  panel.timelineCursor = page.next_cursor;
  const section = document.querySelector("#customer .section-timeline");
  section.replaceChildren(section.querySelector("summary"), ...renderTimeline().filter(Boolean));
}

// --- conversations ------------------------------------------------------------------

function renderHistory() {
  return el("ul", { class: "history" }, panel.customer.conversations.map((c) =>
    el("li", {},
      el("button", {
        type: "button",
        class: "history-item",
        "data-id": c.id,
        "aria-current": c.id === panel.currentConversation ? "true" : null,
        onclick: () => panel.onOpen(c.id),
      },
        el("span", { class: "row" }, channelBadge(c.channel),
           el("span", { class: "status-chip" }, t(`status.${c.status}`)),
           c.id === panel.currentConversation ? el("small", {}, t("customer.current")) : null),
        el("span", { class: "preview" }, c.last_message || ""),
        el("time", { datetime: c.last_message_at || c.opened_at }, formatTime(c.last_message_at || c.opened_at))))));
}

// --- suggestions, merge, unmerge ----------------------------------------------------

function renderSuggestions(suggestions) {
  return el("div", { class: "suggestions" },
    el("h3", {}, t("customer.suggestions")),
    el("ul", {}, suggestions.map((s) =>
      el("li", { class: "suggestion", "data-id": s.id },
        el("p", {}, t("customer.maybe_same"), " ",
           el("strong", {}, s.other ? customerName(s.other) : `#${s.other_id}`),
           s.other ? s.other.identities.map((i) => [" ", channelBadge(i.channel)]) : null),
        el("p", { class: "meta" }, `${s.reason} · ${Math.round(s.score * 100)}%`),
        el("span", { class: "row" },
          el("button", { type: "button", class: "confirm-link", onclick: () => decide(s, "confirm") }, t("customer.link_confirm")),
          el("button", { type: "button", class: "ghost dismiss-link", onclick: () => decide(s, "dismiss") }, t("customer.link_dismiss")))))));
}

async function decide(suggestion, verdict) {
  await act(() => api(`/api/v1/customers/suggestions/${suggestion.id}/${verdict}`, { method: "POST" }));
}

function renderMerge() {
  const input = el("input", {
    id: "merge-search", type: "search", value: panel.mergeQuery,
    placeholder: t("customer.merge_placeholder"), "aria-label": t("customer.merge_placeholder"),
  });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => findMergeCandidates(input.value.trim()), 250);
  });
  return [
    el("p", { class: "hint" }, t("customer.merge_hint")),
    input,
    el("ul", { id: "merge-results", class: "merge-results" }, mergeResults()),
  ];
}

function mergeResults() {
  return panel.mergeResults.map((other) =>
    el("li", {},
      el("span", { class: "who" }, customerName(other), " ",
         other.identities.map((i) => [channelBadge(i.channel), " "])),
      el("button", { type: "button", class: "merge-pick", onclick: () => merge(other) }, t("customer.merge_do"))));
}

async function findMergeCandidates(q) {
  panel.mergeQuery = q;
  const me = panel.customer.id;
  const page = q ? await api(`/api/v1/customers?${new URLSearchParams({ q, limit: "8" })}`) : { items: [] };
  panel.mergeResults = page.items.filter((c) => c.id !== me);
  $("merge-results").replaceChildren(...mergeResults());
  if (q && !panel.mergeResults.length) $("merge-results").append(el("li", { class: "empty small" }, t("search.none")));
}

async function merge(other) {
  const message = t("customer.merge_confirm")
    .replace("{other}", customerName(other)).replace("{me}", customerName(panel.customer));
  if (!(await confirmAction(message, { action: t("customer.merge_do") }))) return;
  panel.mergeQuery = "";
  panel.mergeResults = [];
  await act(() => api(`/api/v1/customers/${panel.customer.id}/merge`, { method: "POST", body: { other_id: other.id } }));
}

async function unmerge(identity) {
  const label = identity.handle ? `@${identity.handle}` : identity.display_name || identity.external_id;
  const message = t("customer.unmerge_confirm").replace("{identity}", `${identity.channel} ${label}`);
  if (!(await confirmAction(message, { action: t("customer.unmerge") }))) return;
  await act(() => api(`/api/v1/customers/${panel.customer.id}/unmerge`, { method: "POST", body: { identity_id: identity.id } }));
}

async function act(call) {
  try {
    await call();
    $("customer-error").hidden = true;
  } catch (error) {
    $("customer-error").textContent = `${t("error.generic")} ${error.message}`;
    $("customer-error").hidden = false;
  }
  await panel.onChanged();
}

// --- audit --------------------------------------------------------------------------

function renderAudit(entries) {
  if (!entries.length) return el("p", { class: "empty small" }, t("customer.audit_none"));
  return el("ol", { class: "audit" }, entries.map((a) =>
    el("li", { class: `audit-${a.action}` },
      el("strong", {}, t(`audit.${a.action}`)), " ",
      a.action === "edit" ? `(${a.data.fields.map(fieldLabel).join(", ")}) ` : null,
      a.other_id ? el("span", {}, `#${a.customer_id} ⇄ #${a.other_id}`) : `#${a.customer_id}`,
      el("span", { class: "meta" }, ` · ${a.actor} · `, el("time", { datetime: a.at }, formatTime(a.at))))));
}

function fieldLabel(name) {
  const found = EDITABLE.find(([field]) => field === name);
  return found ? t(found[1]).toLowerCase() : name;
}

// --- admin: export and erase --------------------------------------------------------

function renderAdmin() {
  return [
    el("p", { class: "hint" }, t("customer.admin_hint")),
    el("span", { class: "row" },
      el("button", { type: "button", id: "customer-export", onclick: exportCustomer }, t("customer.export")),
      el("button", { type: "button", id: "customer-erase", class: "danger", onclick: eraseCustomer }, t("customer.erase"))),
  ];
}

async function exportCustomer() {
  const c = panel.customer;
  const message = t("customer.export_confirm").replace("{name}", customerName(c));
  if (!(await confirmAction(message, { action: t("customer.export") }))) return;
  const data = await api(`/api/v1/customers/${c.id}/export`);
  const link = el("a", {
    href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })),
    download: `customer-${c.id}.json`,
  });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function eraseCustomer() {
  const c = panel.customer;
  const message = t("customer.erase_confirm").replace("{name}", customerName(c));
  if (!(await confirmAction(message, { danger: true, action: t("customer.erase") }))) return;
  await act(() => api(`/api/v1/customers/${c.id}`, { method: "DELETE" }));
}

