// Full-text search behind the "/" box: customers, conversations and messages, grouped,
// shown in place of the conversation list. A click opens the conversation.
import { $, api, channelBadge, customerName, el, formatTime, t } from "./inbox-core.js";

let open = () => {};
let current = { q: "", messages: [], nextCursor: null, page: null };

/** ``onOpen(conversationId, messageId?)`` is called when the agent picks a result. */
export function initSearch(onOpen) {
  open = onOpen;
}

async function openCustomer(id) {
  const customer = await api(`/api/v1/customers/${id}`);
  if (customer.conversations.length) open(customer.conversations[0].id);
}

export async function runSearch(q, { more = false } = {}) {
  const params = new URLSearchParams({ q, limit: "20" });
  if (more && current.nextCursor) params.set("cursor", current.nextCursor);
  const page = await api(`/api/v1/search?${params}`);
  if ($("search").value.trim() !== q) return; // typed on meanwhile
  current = {
    q,
    page: more ? current.page : page,
    messages: more ? current.messages.concat(page.messages.items) : page.messages.items,
    nextCursor: page.messages.next_cursor,
  };
  render();
}

function group(title, items, empty) {
  return [
    el("li", { class: "group-title", role: "presentation" }, title, " ",
       el("small", {}, String(items.length))),
    ...(items.length ? items : [el("li", { class: "empty small" }, empty)]),
  ];
}

function render() {
  const { page, messages, q } = current;
  $("list-title").textContent = `${t("search.results")} “${q}”`;
  $("load-more").hidden = true;
  const customers = page.customers.map((c) =>
    el("li", {},
      el("button", { type: "button", class: "conversation result-customer", onclick: () => openCustomer(c.id) },
        el("strong", { class: "name" }, customerName(c)),
        el("span", { class: "preview" }, [c.phone, c.email].filter(Boolean).join(" · ")))));
  const conversations = page.conversations.map((c) =>
    el("li", {},
      el("button", { type: "button", class: "conversation result-conversation", "data-id": c.id, onclick: () => open(c.id) },
        el("span", { class: "row" }, el("strong", { class: "name" }, c.customer_name || c.title || `#${c.id}`),
           channelBadge(c.channel), el("span", { class: "status-chip" }, t(`status.${c.status}`))),
        el("span", { class: "preview" }, c.last_message || ""))));
  const found = messages.map((m) =>
    el("li", {},
      el("button", { type: "button", class: "conversation result-message", "data-id": m.id,
                     onclick: () => open(m.conversation_id, m.id) },
        el("span", { class: "row meta" }, channelBadge(m.channel), t(`author.${m.author}`),
           el("time", { datetime: m.sent_at }, formatTime(m.sent_at))),
        el("span", { class: "snippet" }, m.text))));
  const more = current.nextCursor
    ? el("li", {}, el("button", { type: "button", class: "ghost more", onclick: () => runSearch(q, { more: true }) },
                      t("list.more")))
    : null;
  $("conversation-list").replaceChildren(
    ...group(t("search.customers"), customers, t("search.none")),
    ...group(t("search.conversations"), conversations, t("search.none")),
    ...group(t("search.messages"), found, t("search.none")),
    ...(more ? [more] : []));
}
