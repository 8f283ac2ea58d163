// The web inbox: three panes over the JSON API, kept fresh by server-sent events.
// This module owns the list, the conversation and the keyboard; search, the customer
// pane, canned replies and bulk actions live in their own modules.
import {
  $, api, boot, channelBadge, duration, el, formatTime, t,
} from "./inbox-core.js";
import { activityItem, slaItem } from "./inbox-activity.js";
import { apply as applyBulk, applyMacro, initBulk, keepPicks, pickBox, togglePick } from "./inbox-bulk.js";
import { chosenCanned, clearCanned, initCanned } from "./inbox-canned.js";
import { clearCustomer, initCustomerPanel, showCustomer } from "./inbox-customer.js";
import { initMacros } from "./inbox-macros.js";
import { initMentions, mentioned, seen } from "./inbox-mentions.js";
import { initHours } from "./inbox-hours.js";
import { customerWrote, givenToMe, initNotify, mentionedMe } from "./inbox-notify.js";
import { handOver, initCompletion, loadTeam } from "./inbox-team.js";
import { initTeams, reloadTeams, showTeam } from "./inbox-teams.js";
import { hideParts, initParts } from "./inbox-parts.js";
import { initSearch, runSearch } from "./inbox-search.js";
import { initViewers, replied, showViewers, viewersChanged, viewing } from "./inbox-viewers.js";

const WINDOW_MS = 24 * 3600 * 1000; // WhatsApp and Messenger's customer-service window
const WINDOW_CHANNELS = new Set(["whatsapp", "messenger"]);
const SENTIMENTS = ["positive", "neutral", "negative"];

const state = {
  conversations: [],
  nextCursor: null,
  selectedId: null,
  conversation: null,
  customer: null,
  searching: false,
  mode: "reply", // or "note": what the box under the conversation writes
  relabelling: null, // the message whose sentiment the agent is correcting
  highlight: null, // a message opened from search or the timeline: marked while it is open
  scrollToHighlight: false, // brought into view once, not at every live refresh
};

function conversationName(c) {
  return c.customer_name || c.title || `#${c.id}`;
}

function showError(error) {
  const box = $("reply-error");
  if (error.status === 409) box.replaceChildren(el("strong", {}, t("reply.refused")), " ", error.message);
  else box.replaceChildren(`${t("error.generic")} ${error.message}`);
  box.hidden = false;
}

// --- the conversation list ----------------------------------------------------------

const NOBODY = ":nobody"; // the assignee filter's "Unassigned" (no user name has a colon)

function filters() {
  const params = new URLSearchParams({ limit: "100" });
  for (const [name, id] of [["status", "filter-status"], ["channel", "filter-channel"],
                            ["assignee", "filter-assignee"], ["tag", "filter-tag"], ["team", "filter-team"]]) {
    const value = $(id).value.trim();
    if (value === NOBODY) params.set("unassigned", "true");
    else if (value) params.set(name, value);
  }
  return params;
}

/** On a phone the filters fold away behind a button naming the ones that apply. */
function showFilters() {
  const chosen = ["filter-status", "filter-channel", "filter-assignee", "filter-team"]
    .map((id) => $(id)).filter((select) => select.value)
    .map((select) => select.selectedOptions[0].textContent);
  const tag = $("filter-tag").value.trim();
  if (tag) chosen.push(`#${tag}`);
  $("filters-toggle").textContent = `${t("filter.label")}: ${chosen.join(" · ") || t("filter.any")} ▾`;
}

function toggleFilters() {
  const open = document.body.dataset.filters !== "open";
  if (open) document.body.dataset.filters = "open";
  else delete document.body.dataset.filters;
  $("filters-toggle").setAttribute("aria-expanded", String(open));
}

async function loadList({ more = false } = {}) {
  if (state.searching) return;
  showFilters(); // also after a filter set from elsewhere (My conversations, a team's removal)
  const params = filters();
  if (more && state.nextCursor) params.set("cursor", state.nextCursor);
  const page = await api(`/api/v1/conversations?${params}`);
  if (state.searching) return;
  state.conversations = more ? state.conversations.concat(page.items) : page.items;
  state.nextCursor = page.next_cursor;
  renderList();
}

function slaBadge(c) {
  if (!c.sla_due_at) return null;
  const overdue = new Date(c.sla_due_at).getTime() <= Date.now();
  return el("span", { class: `sla ${overdue ? "sla-overdue" : "sla-due"}`, title: `SLA ${formatTime(c.sla_due_at)}` },
    overdue ? `${t("sla.overdue")} ${duration(c.sla_due_at)}` : `${t("sla.due")} ${duration(c.sla_due_at)}`);
}

function renderList() {
  const list = $("conversation-list");
  list.replaceChildren(
    ...state.conversations.map((c) => {
      const current = c.id === state.selectedId;
      return el("li", { class: "conversation-item" },
        pickBox(c, conversationName(c)),
        el("button", {
          type: "button",
          class: `conversation status-${c.status}${c.waiting_since ? " waiting" : ""}`,
          "data-id": c.id,
          "aria-current": current ? "true" : null,
          onclick: () => select(c.id),
        },
          el("span", { class: "row" },
            el("strong", { class: "name" }, conversationName(c)),
            c.priority ? el("span", { class: `priority priority-${c.priority}` }, `P${c.priority}`) : null,
            channelBadge(c.channel)),
          el("span", { class: "preview" }, c.last_message || ""),
          el("span", { class: "row meta" },
            c.waiting_since
              ? el("span", { class: "waiting-time", title: formatTime(c.waiting_since) },
                   `${t("list.waiting")} ${duration(c.waiting_since)}`)
              : el("span", { class: "status-chip" }, t(`status.${c.status}`)),
            slaBadge(c),
            c.worst_sentiment !== null && c.worst_sentiment <= -0.05
              ? el("span", { class: "sentiment sentiment-negative" }, t("sentiment.negative")) : null,
            c.assignee ? el("span", { class: "assignee-chip" }, `@${c.assignee}`) : null,
            c.team ? el("span", { class: "team-chip", title: t("team.pick") }, c.team) : null,
            ...c.tags.map((tag) => el("span", { class: "tag" }, tag)))));
    }));
  if (!state.conversations.length) list.append(el("li", { class: "empty" }, t("list.empty")));
  $("load-more").hidden = !state.nextCursor;
  keepPicks(new Set(state.conversations.map((c) => c.id)));
}

async function search(query) {
  state.searching = Boolean(query);
  if (!query) {
    $("list-title").textContent = t("list.title");
    return loadList();
  }
  await runSearch(query);
}

// --- one conversation ---------------------------------------------------------------

async function select(id, messageId = null) {
  if (id !== state.selectedId) hideParts();
  state.selectedId = id;
  showPane("thread");
  showCustomerCard(false);
  viewing(id);
  seen(id).catch((error) => console.error(error));
  state.highlight = messageId;
  state.scrollToHighlight = messageId !== null;
  state.relabelling = null;
  if (!state.searching) renderList();
  await loadThread({ scroll: messageId === null });
}

function forget() {
  state.selectedId = null;
  showPane("list");
  viewing(null);
  state.conversation = null;
  state.customer = null;
  $("thread").hidden = true;
  $("thread-empty").hidden = false;
  clearCustomer();
}

async function loadThread({ scroll = false } = {}) {
  const id = state.selectedId;
  if (id === null) return;
  let conversation, page, notes, events, breaches;
  try {
    [conversation, page, notes, events, breaches] = await Promise.all([
      api(`/api/v1/conversations/${id}`),
      api(`/api/v1/conversations/${id}/messages?limit=200`),
      api(`/api/v1/conversations/${id}/notes`),
      api(`/api/v1/conversations/${id}/events?limit=200`),
      api(`/api/v1/sla/breaches?conversation_id=${id}&limit=50`),
    ]);
  } catch (error) {
    if (error.status === 404 && id === state.selectedId) forget(); // erased, or merged away
    return;
  }
  if (id !== state.selectedId) return; // the agent moved on meanwhile
  const customer = await api(`/api/v1/customers/${conversation.customer_id}`);
  if (id !== state.selectedId) return;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  renderThread(conversation);
  state.conversation = conversation;
  state.customer = customer;
  renderMessages(page.items, notes.items, events.items, breaches.items);
  const target = state.highlight === null ? null : box.querySelector(`[data-id="${state.highlight}"]`);
  target?.classList.add("highlight");
  if (state.scrollToHighlight) {
    target?.scrollIntoView({ block: "center" });
    state.scrollToHighlight = false;
  } else if (scroll || atBottom) {
    box.scrollTop = box.scrollHeight;
  }
  await Promise.all([showCustomer(customer, conversation.id), showViewers()]);
}

/** When the customer-service window closes (ISO), or null when it is closed already. */
function windowCloses(c) {
  const last = c.last_customer_message_at ? new Date(c.last_customer_message_at).getTime() : null;
  if (last === null || last + WINDOW_MS <= Date.now()) return null;
  return new Date(last + WINDOW_MS).toISOString();
}

function windowState(c) {
  if (!WINDOW_CHANNELS.has(c.channel)) return null;
  const closes = windowCloses(c);
  if (closes) {
    return el("span", { class: "window window-open", title: `${t("window.closes")} ${formatTime(closes)}` },
      `${t("window.open")} · ${duration(closes)}`);
  }
  return el("span", { class: "window window-closed", title: t("window.closed_hint") }, t("window.closed"));
}

function renderThread(c) {
  $("thread-empty").hidden = true;
  $("thread").hidden = false;
  if (state.conversation?.id !== c.id) $("snooze-until").value = ""; // another conversation
  $("thread-title").replaceChildren(conversationName(c), " ", channelBadge(c.channel));
  $("thread-badges").replaceChildren(
    ...[slaBadge(c), windowState(c),
        c.status === "snoozed" && c.snoozed_until
          ? el("span", { class: "snoozed-until" }, `${t("conv.snoozed_until")} ${formatTime(c.snoozed_until)}`)
          : null].filter(Boolean));
  $("conv-status").value = c.status;
  $("conv-priority").value = String(c.priority);
  showTeam(c);
  $("conv-assignee").textContent = c.assignee ? `@${c.assignee}` : t("conv.unassigned");
  const mine = c.assignee === boot.user;
  $("conv-assign").textContent = mine ? t("conv.unassign") : t("conv.assign_me");
  $("conv-resolve").textContent = c.status === "resolved" ? t("conv.reopen") : t("conv.resolve");
  const tags = $("conv-tags");
  if (document.activeElement !== tags) tags.value = c.tags.join(", ");
  $("reply-public").hidden = !c.public;
  fileRules(c);
}

// The file picker offers only what X carries (pictures and videos); outside WhatsApp's
// window the control is off, as WhatsApp sends no file then (a template carries none).
const X_FILES = "image/jpeg,image/png,image/webp,image/gif,video/mp4,video/quicktime";

function fileRules(c) {
  const input = $("reply-file");
  input.accept = c.channel === "x" ? X_FILES : "";
  const closed = c.channel === "whatsapp" && !windowCloses(c);
  input.disabled = closed;
  $("attach-tools").classList.toggle("disabled", closed);
  $("attach-tools").title = closed ? t("reply.attach_window") : "";
  if (closed && input.files.length) clearFile();
}

const TICKS = { queued: "○", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

function sentimentControl(m) {
  if (!m.sentiment) return null;
  const s = m.sentiment;
  if (state.relabelling === m.id) {
    const select = el("select", { class: "sentiment-select", "aria-label": t("sentiment.relabel") },
      SENTIMENTS.map((label) => el("option", { value: label, selected: label === s.label }, t(`sentiment.${label}`))));
    select.addEventListener("change", () => relabel(m, select.value));
    select.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        state.relabelling = null;
        loadThread();
      }
    });
    queueMicrotask(() => select.focus());
    return select;
  }
  const title = `${s.compound.toFixed(2)} (${s.language || "?"})${s.corrected ? ` · ${t("sentiment.corrected")}` : ""} · ${t("sentiment.relabel")}`;
  return el("button", {
    type: "button",
    class: `sentiment sentiment-${s.label}${s.corrected ? " corrected" : ""}`,
    title,
    onclick: () => {
      state.relabelling = m.id;
      loadThread();
    },
  }, t(`sentiment.${s.label}`), s.corrected ? " ✎" : null);
}

async function relabel(message, label) {
  state.relabelling = null;
  try {
    await api(`/api/v1/messages/${message.id}/sentiment`, { method: "PATCH", body: { label } });
  } catch (error) {
    showError(error);
  }
  await loadThread();
}

// A file the daemon serves (content_url: its copy, or the file fetched from the platform)
// is shown: a picture as a thumbnail opening the full one, a voice note or video as a
// player that loads only when played, a document as a download. Otherwise an attachment
// the platform serves over https (an X post's picture) opens in a new tab; anything else
// is named only.
function attachment(a) {
  const label = `[${a.kind}${a.name ? `: ${a.name}` : ""}]`;
  if (a.content_url) return fetchedFile(a, label);
  if (!/^https:\/\//i.test(a.url || "")) return label;
  return el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer",
                   title: a.extra?.alt_text || null }, label);
}

function fetchedFile(a, label) {
  const link = (child) => el("a", { class: `attachment attachment-${a.kind}`, href: a.content_url,
                                    target: "_blank", rel: "noopener" }, child);
  if (a.kind === "image" || a.kind === "sticker") {
    // A sticker Telegram animates (.tgs) is no picture a browser decodes: its name stays.
    const image = el("img", { src: a.content_url, alt: label, loading: "lazy",
                              onerror: () => image.replaceWith(label) });
    return link(image);
  }
  if (a.kind === "audio" || a.kind === "video") {
    return el(a.kind, { class: `attachment attachment-${a.kind}`, src: a.content_url,
                        controls: true, preload: "none", title: label });
  }
  return link(label);
}

function messageItem(m) {
  const status = m.delivery_status;
  return el("li", { class: `message ${m.direction} author-${m.author}`, "data-id": m.id },
    el("div", { class: "bubble" },
      m.text ? el("p", { class: "text" }, m.text) : null,
      m.attachments.length
        ? el("p", { class: "attachments" }, m.attachments.map((a, i) => [i ? " " : null, attachment(a)]))
        : null,
      el("div", { class: "meta" },
        m.sent_by
          ? el("span", { class: "author", title: t(`author.${m.author}`) }, m.sent_by)
          : el("span", { class: "author" }, t(`author.${m.author}`)),
        el("time", { datetime: m.sent_at }, formatTime(m.sent_at)),
        m.edited_at ? el("span", { class: "edited" }, t("msg.edited")) : null,
        sentimentControl(m),
        m.direction === "out" && status
          ? el("span", { class: `ticks ticks-${status}`, role: "img",
                         "aria-label": t(`delivery.${status}`),
                         title: m.delivery_error ? `${t(`delivery.${status}`)}: ${m.delivery_error}` : t(`delivery.${status}`) },
               TICKS[status] || status)
          : null)));
}

function noteItem(n) {
  return el("li", { class: "note", "data-note-id": n.id },
    el("div", { class: "note-body" },
      el("span", { class: "note-label" }, t("note.label")),
      el("p", { class: "text" }, n.text),
      el("div", { class: "meta" },
        el("span", { class: "author" }, n.author),
        el("time", { datetime: n.created_at }, formatTime(n.created_at)))));
}

/** Messages, notes and the conversation's history in one column, by time; notes stand apart
 * and are never sent. */
function renderMessages(messages, notes, events, breaches) {
  const items = [
    ...messages.map((m) => ({ at: m.sent_at, node: () => messageItem(m) })),
    ...notes.map((n) => ({ at: n.created_at, node: () => noteItem(n) })),
    ...events.map((e) => ({ at: e.at, node: () => activityItem(e) })),
    ...breaches.map((b) => ({ at: b.fired_at, node: () => slaItem(b) })),
  ].sort((a, b) => new Date(a.at) - new Date(b.at));
  $("messages").replaceChildren(...items.map((item) => item.node()).filter(Boolean));
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

function setMode(mode) {
  state.mode = mode;
  const note = mode === "note";
  $("reply-form").classList.toggle("note-mode", note);
  $("mode-reply").setAttribute("aria-selected", String(!note));
  $("mode-note").setAttribute("aria-selected", String(note));
  $("reply-text").placeholder = note ? t("note.placeholder") : t("reply.placeholder");
  $("reply-send").textContent = note ? t("note.add") : t("reply.send");
  $("canned-tools").hidden = note;
  $("attach-tools").hidden = note;
  if (note) clearCanned();
  hideParts();
  $("reply-text").focus();
}

async function sendReply(event) {
  event.preventDefault();
  if (!state.conversation) return;
  const box = $("reply-text");
  const text = box.value.trim();
  const canned = state.mode === "reply" ? chosenCanned() : null;
  const file = state.mode === "reply" ? $("reply-file").files[0] : undefined;
  if (!text && !canned && !file) return;
  const id = state.conversation.id;
  let call;
  if (state.mode === "note") call = [`/api/v1/conversations/${id}/notes`, { body: { text } }];
  else if (file) call = [`/api/v1/conversations/${id}/files`, { form: fileForm(file, text) }];
  else call = [`/api/v1/conversations/${id}/messages`,
               { body: canned ? { canned_reply_id: canned.id } : { text } }];
  $("reply-send").disabled = true;
  try {
    await api(call[0], { method: "POST", ...call[1] });
    if (canned) clearCanned();
    else box.value = "";
    if (state.mode === "reply") replied();
    if (file) clearFile();
    hideParts();
    $("reply-error").hidden = true;
    await Promise.all([loadThread({ scroll: true }), loadList()]);
  } catch (error) {
    showError(error);
  } finally {
    $("reply-send").disabled = false;
  }
}

function fileForm(file, text) {
  const form = new FormData();
  form.append("file", file);
  form.append("text", text);
  return form;
}

// The chosen file is named beside the attach control, with a button to drop it.
function showFile() {
  const file = $("reply-file").files[0];
  $("reply-file-chosen").hidden = !file;
  $("reply-file-name").textContent = file ? file.name : "";
}

function clearFile() {
  $("reply-file").value = "";
  showFile();
}

function snooze(event) {
  event.preventDefault();
  const value = $("snooze-until").value;
  if (!value) return;
  const until = new Date(value); // datetime-local: the agent's own time zone
  if (until.getTime() <= Date.now()) {
    showError(new Error(t("conv.snooze_past")));
    return;
  }
  patchConversation({ status: "snoozed", snoozed_until: until.toISOString() });
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
    if (thread && state.relabelling === null) loadThread().catch(() => {});
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
  for (const kind of ["message.created", "message.updated", "conversation.updated", "customer.updated", "note.created", "sync", "ping"]) {
    source.addEventListener(kind, onChange);
  }
  source.addEventListener("conversation.updated", (event) => {
    const data = event.data ? JSON.parse(event.data) : {};
    if (!("assignee" in data)) return;
    loadTeam().catch((error) => console.error(error)); // their workloads moved
    if (data.assignee === boot.user && data.actor !== boot.user) { // the rule, or a colleague
      assignedToMe();
      givenToMe(data.conversation_id, data.actor).catch((error) => console.error(error));
    }
  });
  source.addEventListener("message.created", (event) =>
    customerWrote(JSON.parse(event.data)).catch((error) => console.error(error)));
  source.addEventListener("conversation.viewers", (event) => viewersChanged(JSON.parse(event.data)));
  source.addEventListener("note.mention", (event) => {
    const data = JSON.parse(event.data);
    mentioned(data).catch((error) => console.error(error));
    mentionedMe(data).catch((error) => console.error(error));
  });
  source.addEventListener("teams.changed", () => reloadTeams()
    .then((refiltered) => refiltered && loadList()).catch((error) => console.error(error)));
  source.addEventListener("agent.availability", (event) => {
    const data = JSON.parse(event.data);
    if (data.name === boot.user) $("available").checked = data.available; // another tab
    loadTeam().catch((error) => console.error(error));
  });
  source.onerror = () => {
    status.dataset.state = "offline";
    status.textContent = t("nav.offline");
  };
}

// --- availability -------------------------------------------------------------------
// Taking conversations: automatic assignment gives new ones only to available agents.

async function loadAvailability() {
  const me = await api("/api/v1/me");
  $("available").checked = Boolean(me.available);
  $("available").dataset.loaded = "true";
}

async function setAvailability() {
  const box = $("available");
  try {
    const me = await api("/api/v1/me/availability", { method: "PUT", body: { available: box.checked } });
    box.checked = Boolean(me.available);
  } catch (error) {
    box.checked = !box.checked;
    showError(error);
  }
}

// Conversations automatic assignment or a colleague gave me since I last looked: counted
// in the tab's title and beside the live status; a click shows mine.
const BASE_TITLE = document.title;
let newlyMine = 0;

function assignedToMe() {
  newlyMine += 1;
  document.title = `(${newlyMine}) ${BASE_TITLE}`;
  $("assigned-note").textContent = `${t("assign.new_for_you")}: ${newlyMine}`;
  $("assigned-note").hidden = false;
}

function showMine() {
  newlyMine = 0;
  document.title = BASE_TITLE;
  $("assigned-note").hidden = true;
  $("filter-assignee").value = boot.user;
  loadList().catch((error) => console.error(error));
}

// --- narrow screens -------------------------------------------------------------------
// On a phone one pane shows at a time, the list or the conversation (inbox.css); up to a
// tablet's width the customer's card is a drawer over the conversation.

function showPane(view) {
  document.body.dataset.view = view;
}

function showCustomerCard(open) {
  const wasOpen = document.body.dataset.customer === "open";
  if (open) document.body.dataset.customer = "open";
  else delete document.body.dataset.customer;
  // the keyboard follows the drawer in and back out to the button that opened it
  if (open) $("customer-close").focus();
  else if (wasOpen && document.activeElement?.closest("#customer-pane")) $("customer-open").focus();
}

function toggleControls() {
  const open = document.body.dataset.controls !== "open";
  if (open) document.body.dataset.controls = "open";
  else delete document.body.dataset.controls;
  $("controls-toggle").setAttribute("aria-expanded", String(open));
}

// --- keyboard -----------------------------------------------------------------------

function onKey(event) {
  const target = event.target;
  const typing = target.closest("input, textarea, select");
  if (event.key === "Escape") {
    showCustomerCard(false);
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
  if (typing || event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    r: () => state.conversation && setMode("reply"),
    n: () => state.conversation && setMode("note"),
    e: toggleResolved,
    x: () => state.selectedId !== null && togglePick(state.selectedId),
    a: () => state.conversation && $("conv-assign").click(),
    h: () => state.conversation && $("conv-hand").focus(),
    m: () => state.conversation && !$("conv-macro").hidden && $("conv-macro").focus(),
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
  for (const id of ["filter-status", "filter-channel", "filter-assignee", "filter-team", "filter-tag"]) {
    $(id).addEventListener("change", () => loadList());
  }
  $("filters-toggle").addEventListener("click", toggleFilters);
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
  $("reply-file").addEventListener("change", showFile);
  $("reply-file-clear").addEventListener("click", clearFile);
  initParts(() => (state.mode === "reply" ? state.conversation : null));
  $("mode-reply").addEventListener("click", () => setMode("reply"));
  $("mode-note").addEventListener("click", () => setMode("note"));
  $("conv-status").addEventListener("change", (event) => patchConversation({ status: event.target.value }));
  $("conv-priority").addEventListener("change", (event) => patchConversation({ priority: Number(event.target.value) }));
  $("conv-assign").addEventListener("click", () =>
    patchConversation({ assignee: state.conversation?.assignee === boot.user ? null : boot.user }));
  $("conv-resolve").addEventListener("click", toggleResolved);
  $("snooze-form").addEventListener("submit", snooze);
  $("conv-tags").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const tags = event.target.value.split(",").map((s) => s.trim()).filter(Boolean);
    event.target.blur();
    patchConversation({ tags });
  });
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("thread-back").addEventListener("click", () => showPane("list"));
  $("customer-open").addEventListener("click", () => showCustomerCard(true));
  $("controls-toggle").addEventListener("click", toggleControls);
  $("customer-close").addEventListener("click", () => showCustomerCard(false));
  $("available").addEventListener("change", setAvailability);
  $("assigned-note").addEventListener("click", showMine);
  loadAvailability().catch((error) => console.error(error));
  document.addEventListener("keydown", onKey);
  initSearch((id, messageId) => select(id, messageId ?? null));
  initCustomerPanel({
    onOpen: (id, messageId) => select(id, messageId ?? null),
    onChanged: () => Promise.all([loadThread(), loadList()]),
  });
  initCanned();
  initViewers({ replyBox: $("reply-text"), isReplying: () => state.mode === "reply" });
  initMentions({ onOpen: (id) => select(id), selected: () => state.selectedId });
  initNotify({ onOpen: (id) => select(id), selected: () => state.selectedId });
  handOver($("conv-hand"), (name) => patchConversation({ assignee: name }));
  initTeams({
    give: (team) => patchConversation({ team }),
    giveMany: (team) => applyBulk({ team }),
  }).catch((error) => console.error(error));
  initMacros($("conv-macro"), $("bulk-macro"), {
    conversation: () => state.conversation,
    applyMany: (id) => applyMacro(id),
    done: async (error) => {
      if (error) showError(error);
      else $("reply-error").hidden = true;
      await Promise.all([loadThread({ scroll: true }), loadList()]);
    },
  });
  initCompletion($("reply-text"), () => state.mode === "note");
  loadTeam().catch((error) => console.error(error));
  initHours();
  initBulk({ done: () => Promise.all([loadList(), state.conversation ? loadThread() : null]) });
  setInterval(() => state.searching || renderList(), 30000); // waiting times move on
  const linked = Number(new URLSearchParams(window.location.search).get("conversation"));
  loadList()
    .then(() => linked && select(linked)) // /?conversation=ID, e.g. from the reports page
    .catch((error) => console.error(error));
  connect();
}

start();
