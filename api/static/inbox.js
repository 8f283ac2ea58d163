// The web inbox: three panes over the JSON API, kept fresh by server-sent events.
// Every piece of data goes into the page through textContent, never as HTML.
"use strict";

const boot = JSON.parse(document.getElementById("boot").textContent);
const t = (key) => boot.t[key] || key;
const $ = (id) => document.getElementById(id);

const state = {
  conversations: [],
  nextCursor: null,
  selectedId: null,
  conversation: null,
  customer: null,
  suggestions: [],
  searching: false,
};

// --- talking to the API -----------------------------------------------------------

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = boot.csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/login");
    throw new Error("signed out");
  }
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    const text = typeof detail.detail === "string" ? detail.detail : response.statusText;
    throw new Error(text);
  }
  return response.status === 204 ? null : response.json();
}

// --- small DOM helpers --------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const channelLabel = (c) => ({ telegram: "Telegram", whatsapp: "WhatsApp", messenger: "Messenger", x: "X" })[c] || c;
const channelBadge = (c) => el("span", { class: `channel channel-${c}` }, channelLabel(c));
const locale = navigator.language?.startsWith(boot.lang) ? navigator.language : boot.lang;
const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
const formatTime = (iso) => (iso ? dateTime.format(new Date(iso)) : "");

function waited(iso) {
  const minutes = Math.floor((Date.now() - new Date(iso).getTime()) / 60000);
  if (minutes < 1) return t("time.now");
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

function conversationName(c) {
  return c.customer_name || c.title || `#${c.id}`;
}

function showError(error) {
  const box = $("reply-error");
  box.textContent = `${t("error.generic")} ${error.message}`;
  box.hidden = false;
}

// --- the conversation list ----------------------------------------------------------

function filters() {
  const params = new URLSearchParams({ limit: "100" });
  for (const [name, id] of [["status", "filter-status"], ["channel", "filter-channel"],
                            ["assignee", "filter-assignee"], ["tag", "filter-tag"]]) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function loadList({ more = false } = {}) {
  if (state.searching) return;
  const params = filters();
  if (more && state.nextCursor) params.set("cursor", state.nextCursor);
  const page = await api(`/api/v1/conversations?${params}`);
  state.conversations = more ? state.conversations.concat(page.items) : page.items;
  state.nextCursor = page.next_cursor;
  renderList();
}

function renderList() {
  const list = $("conversation-list");
  list.replaceChildren(
    ...state.conversations.map((c) => {
      const current = c.id === state.selectedId;
      return el("li", {},
        el("button", {
          type: "button",
          class: `conversation status-${c.status}${c.waiting_since ? " waiting" : ""}`,
          "data-id": c.id,
          "aria-current": current ? "true" : null,
          onclick: () => select(c.id),
        },
          el("span", { class: "row" },
            el("strong", { class: "name" }, conversationName(c)),
            channelBadge(c.channel)),
          el("span", { class: "preview" }, c.last_message || ""),
          el("span", { class: "row meta" },
            c.waiting_since
              ? el("span", { class: "waiting-time", title: formatTime(c.waiting_since) },
                   `${t("list.waiting")} ${waited(c.waiting_since)}`)
              : el("span", { class: "status-chip" }, t(`status.${c.status}`)),
            c.worst_sentiment !== null && c.worst_sentiment <= -0.05
              ? el("span", { class: "sentiment sentiment-negative" }, t("sentiment.negative")) : null,
            c.assignee ? el("span", { class: "assignee-chip" }, `@${c.assignee}`) : null,
            ...c.tags.map((tag) => el("span", { class: "tag" }, tag)))));
    }));
  if (!state.conversations.length) list.append(el("li", { class: "empty" }, t("list.empty")));
  $("load-more").hidden = !state.nextCursor;
}

// --- search (the "/" key): customers, conversations and messages --------------------

function hitButton(label, detail, conversationId, badges = []) {
  return el("li", {},
    el("button", {
      type: "button",
      class: "conversation",
      disabled: conversationId ? null : true,
      onclick: () => conversationId && select(conversationId),
    },
      el("span", { class: "row" }, el("strong", { class: "name" }, label), ...badges),
      el("span", { class: "preview" }, detail)));
}

async function search(query) {
  if (!query) {
    state.searching = false;
    $("list-title").textContent = t("list.title");
    return loadList();
  }
  state.searching = true;
  const found = await api(`/api/v1/search?${new URLSearchParams({ q: query, limit: "30" })}`);
  $("list-title").textContent = t("search.label");
  $("load-more").hidden = true;
  const customers = await Promise.all(found.customers.slice(0, 10).map(
    (c) => api(`/api/v1/customers/${c.id}`).catch(() => null)));
  const items = [
    ...customers.filter(Boolean).map((customer) => hitButton(
      customer.display_name || `#${customer.id}`,
      customer.identities.map((i) => i.handle ? `@${i.handle}` : i.phone || i.external_id).join(" · "),
      customer.conversations[0]?.id,
      [...new Set(customer.identities.map((i) => i.channel))].map(channelBadge))),
    ...found.messages.items.map((m) => hitButton(
      formatTime(m.sent_at), m.text, m.conversation_id, [channelBadge(m.channel)])),
  ];
  $("conversation-list").replaceChildren(...items);
  if (!items.length) $("conversation-list").append(el("li", { class: "empty" }, t("search.none")));
}

// --- one conversation ---------------------------------------------------------------

async function select(id) {
  state.selectedId = id;
  renderList();
  await loadThread({ scroll: true });
}

async function loadThread({ scroll = false } = {}) {
  const id = state.selectedId;
  if (id === null) return;
  const [conversation, page] = await Promise.all([
    api(`/api/v1/conversations/${id}`),
    api(`/api/v1/conversations/${id}/messages?limit=200`),
  ]);
  if (id !== state.selectedId) return; // the agent moved on meanwhile
  const [customer, notes, suggestions] = await Promise.all([
    api(`/api/v1/customers/${conversation.customer_id}`),
    api(`/api/v1/conversations/${id}/notes`),
    api(`/api/v1/customers/suggestions?customer_id=${conversation.customer_id}`),
  ]);
  state.conversation = conversation;
  state.customer = customer;
  state.suggestions = suggestions.items;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  renderThread(conversation);
  renderMessages(page.items);
  renderNotes(notes.items || notes);
  renderCustomer(customer);
  if (scroll || atBottom) box.scrollTop = box.scrollHeight;
}

function renderThread(c) {
  $("thread-empty").hidden = true;
  $("thread").hidden = false;
  const title = $("thread-title");
  title.replaceChildren(conversationName(c), " ", channelBadge(c.channel));
  $("conv-status").value = c.status;
  $("conv-assignee").textContent = `${t("conv.assignee")}: ${c.assignee || t("conv.unassigned")}`;
  const mine = c.assignee === boot.user;
  $("conv-assign").textContent = mine ? t("conv.unassign") : t("conv.assign_me");
  $("conv-resolve").textContent = c.status === "resolved" ? t("conv.reopen") : t("conv.resolve");
  const tags = $("conv-tags");
  if (document.activeElement !== tags) tags.value = c.tags.join(", ");
  $("reply-public").hidden = !c.public;
}

const TICKS = { queued: "○", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

function renderMessages(messages) {
  $("messages").replaceChildren(...messages.map((m) => {
    const status = m.delivery_status;
    return el("li", { class: `message ${m.direction} author-${m.author}`, "data-id": m.id },
      el("div", { class: "bubble" },
        m.text ? el("p", { class: "text" }, m.text) : null,
        m.attachments.length
          ? el("p", { class: "attachments" }, m.attachments.map((a) => `[${a.kind}${a.name ? `: ${a.name}` : ""}]`).join(" "))
          : null,
        el("div", { class: "meta" },
          el("span", { class: "author" }, t(`author.${m.author}`)),
          el("time", { datetime: m.sent_at }, formatTime(m.sent_at)),
          m.edited_at ? el("span", { class: "edited" }, t("msg.edited")) : null,
          m.sentiment
            ? el("span", { class: `sentiment sentiment-${m.sentiment.label}`,
                           title: `${m.sentiment.compound.toFixed(2)} (${m.sentiment.language || "?"})` },
                 t(`sentiment.${m.sentiment.label}`))
            : null,
          m.direction === "out" && status
            ? el("span", { class: `ticks ticks-${status}`, role: "img",
                           "aria-label": t(`delivery.${status}`),
                           title: m.delivery_error ? `${t(`delivery.${status}`)}: ${m.delivery_error}` : t(`delivery.${status}`) },
                 TICKS[status] || status)
            : null)));
  }));
}

function renderNotes(notes) {
  $("notes").replaceChildren(...notes.map((n) =>
    el("li", { class: "note" }, el("p", {}, n.text),
       el("small", {}, `${n.author} · ${formatTime(n.created_at)}`))));
}

async function customerAction(path, body) {
  try {
    await api(path, { method: "POST", body });
    $("reply-error").hidden = true;
  } catch (error) {
    showError(error);
  }
  await Promise.all([loadThread(), loadList()]);
}

function customerTools(customer) {
  const merge = el("form", { class: "merge", onsubmit: (event) => {
    event.preventDefault();
    const other = Number(event.target.elements.other.value);
    if (other) customerAction(`/api/v1/customers/${customer.id}/merge`, { other_id: other });
  } },
    el("label", {}, t("customer.merge_with"), " ",
       el("input", { name: "other", type: "number", min: "1", size: "6", required: true })),
    el("button", { type: "submit" }, t("customer.merge")));
  const suggestions = (state.suggestions || []).map((s) => {
    const other = s.customer_id === customer.id ? s.other_id : s.customer_id;
    return el("li", { class: "suggestion" },
      `#${other} (${s.reason}) `,
      el("button", { type: "button", onclick: () =>
        customerAction(`/api/v1/customers/suggestions/${s.id}/confirm`, {}) }, t("customer.confirm")),
      el("button", { type: "button", class: "ghost", onclick: () =>
        customerAction(`/api/v1/customers/suggestions/${s.id}/dismiss`, {}) }, t("customer.dismiss")));
  });
  return [
    suggestions.length ? el("h3", {}, t("customer.suggestions")) : null,
    suggestions.length ? el("ul", { class: "suggestions" }, suggestions) : null,
    merge,
  ];
}

function renderCustomer(customer) {
  const current = state.selectedId;
  const details = [["customer.language", customer.language], ["customer.phone", customer.phone],
                   ["customer.email", customer.email]].filter(([, v]) => v);
  $("customer").replaceChildren(
    el("p", { class: "customer-name" }, customer.display_name || `#${customer.id}`),
    details.length ? el("dl", { class: "details" }, details.map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)])) : null,
    el("h3", {}, t("customer.identities")),
    el("ul", { class: "identities" }, customer.identities.map((i) =>
      el("li", {}, channelBadge(i.channel), " ",
         i.handle ? `@${i.handle}` : i.display_name || "", " ",
         el("small", {}, i.phone || i.external_id),
         customer.identities.length > 1
           ? el("button", { type: "button", class: "ghost small", title: t("customer.unmerge_hint"),
                            onclick: () => customerAction(`/api/v1/customers/${customer.id}/unmerge`,
                                                          { identity_id: i.id }) },
                t("customer.unmerge"))
           : null))),
    ...customerTools(customer),
    el("h3", {}, t("customer.history")),
    el("ul", { class: "history" }, customer.conversations.map((c) =>
      el("li", {},
        el("button", {
          type: "button",
          class: "history-item",
          "data-id": c.id,
          "aria-current": c.id === current ? "true" : null,
          onclick: () => select(c.id),
        },
          el("span", { class: "row" }, channelBadge(c.channel),
             el("span", { class: "status-chip" }, t(`status.${c.status}`)),
             c.id === current ? el("small", {}, t("customer.current")) : null),
          el("span", { class: "preview" }, c.last_message || ""),
          el("time", { datetime: c.last_message_at || c.opened_at }, formatTime(c.last_message_at || c.opened_at)))))));
}

// --- actions ------------------------------------------------------------------------

async function patchConversation(changes) {
  if (!state.conversation) return;
  try {
    await api(`/api/v1/conversations/${state.conversation.id}`, { method: "PATCH", body: changes });
    $("reply-error").hidden = true;
  } catch (error) {
    showError(error);
  }
  await Promise.all([loadThread(), loadList()]);
}

async function sendReply(event) {
  event.preventDefault();
  const box = $("reply-text");
  const text = box.value.trim();
  const canned = $("reply-canned").value;
  if ((!text && !canned) || !state.conversation) return;
  $("reply-send").disabled = true;
  try {
    const body = text ? { text } : { canned_reply_id: Number(canned) };
    await api(`/api/v1/conversations/${state.conversation.id}/messages`, { method: "POST", body });
    box.value = "";
    $("reply-canned").value = "";
    $("reply-error").hidden = true;
    await Promise.all([loadThread({ scroll: true }), loadList()]);
  } catch (error) {
    showError(error);
  } finally {
    $("reply-send").disabled = false;
  }
}

function toggleResolved() {
  if (!state.conversation) return;
  patchConversation({ status: state.conversation.status === "resolved" ? "open" : "resolved" });
}

function move(step) {
  const items = state.conversations;
  if (!items.length || state.searching) return;
  const at = items.findIndex((c) => c.id === state.selectedId);
  const next = at === -1 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  select(items[next].id).then(() => {
    document.querySelector(`#conversation-list [data-id="${items[next].id}"]`)?.focus();
  });
}

// --- live updates -------------------------------------------------------------------

let refreshTimer = null;
let refreshThread = false;

function scheduleRefresh(conversationId) {
  if (conversationId === undefined || conversationId === state.selectedId ||
      state.customer?.conversations.some((c) => c.id === conversationId)) {
    refreshThread = true;
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const thread = refreshThread;
    refreshThread = false;
    loadList().catch(() => {});
    if (thread) loadThread().catch(() => {});
  }, 200);
}

function connect() {
  const status = $("live-status");
  const source = new EventSource("/api/v1/events");
  const onChange = (event) => {
    const data = event.data ? JSON.parse(event.data) : {};
    scheduleRefresh(data.conversation_id);
  };
  source.addEventListener("hello", () => {
    status.dataset.state = "live";
    status.textContent = t("nav.live");
  });
  for (const kind of ["message.created", "message.updated", "conversation.updated", "sync", "ping"]) {
    source.addEventListener(kind, onChange);
  }
  source.onerror = () => {
    status.dataset.state = "offline";
    status.textContent = t("nav.offline");
  };
}

// --- keyboard -----------------------------------------------------------------------

function onKey(event) {
  const target = event.target;
  const typing = target.closest("input, textarea, select");
  if (event.key === "Escape") {
    if (target.id === "search" && target.value) {
      target.value = "";
      search("");
    }
    if (typing) target.blur();
    return;
  }
  if (target.id === "reply-text" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $("reply-form").requestSubmit();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || $("help").open) return;
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    r: () => state.conversation && $("reply-text").focus(),
    e: toggleResolved,
    "/": () => $("search").focus(),
    "?": () => $("help").showModal(),
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// --- start --------------------------------------------------------------------------

function start() {
  for (const id of ["filter-status", "filter-channel", "filter-assignee"]) {
    $(id).addEventListener("change", () => loadList());
  }
  $("filter-tag").addEventListener("change", () => loadList());
  $("load-more").addEventListener("click", () => loadList({ more: true }));
  let searchTimer = null;
  $("search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(event.target.value.trim()), 250);
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("search").value.trim());
  });
  $("reply-form").addEventListener("submit", sendReply);
  $("conv-status").addEventListener("change", (event) => patchConversation({ status: event.target.value }));
  $("conv-assign").addEventListener("click", () =>
    patchConversation({ assignee: state.conversation?.assignee === boot.user ? null : boot.user }));
  $("conv-resolve").addEventListener("click", toggleResolved);
  $("conv-tags").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const tags = event.target.value.split(",").map((s) => s.trim()).filter(Boolean);
    event.target.blur();
    patchConversation({ tags });
  });
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || !state.conversation) return;
    try {
      await api(`/api/v1/conversations/${state.conversation.id}/notes`, { method: "POST", body: { text } });
      $("note-text").value = "";
      await loadThread();
    } catch (error) {
      showError(error);
    }
  });
  api("/api/v1/canned-replies").then((page) => {
    $("reply-canned").append(...(page.items || page).map((c) => el("option", { value: c.id }, c.title)));
  }).catch(() => {});
  document.addEventListener("keydown", onKey);
  setInterval(() => state.searching || renderList(), 30000); // waiting times move on
  loadList().catch((error) => console.error(error));
  connect();
}

start();
