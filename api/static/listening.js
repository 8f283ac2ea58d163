// The brand listening page: mentions with sentiment (relabel, promote), the sentiment
// trend, share of voice and alerts. No event is published for mentions, so the page
// re-reads every 30 seconds (the list only when nobody is working in it).
"use strict";

const REFRESH_MS = 30_000;
const LABELS = ["negative", "neutral", "positive"];
const listState = { next: null, bucket: "hour" };
const filters = { source: $("men-source"), language: $("men-language"), label: $("men-label"), q: $("men-q") };

function mentionQuery(cursor) {
  const query = new URLSearchParams({ limit: "30" });
  for (const [name, input] of Object.entries(filters)) if (input.value.trim()) query.set(name, input.value.trim());
  if (cursor) query.set("cursor", cursor);
  return query;
}

function sentimentBadge(sentiment) {
  if (!sentiment) return el("span", { class: "sentiment sentiment-neutral" }, "–");
  return el("span", { class: `sentiment sentiment-${sentiment.label}`, title: `${sentiment.compound.toFixed(2)}${sentiment.corrected ? ` · ${t("lis.corrected")}` : ""}` },
    t(`sentiment.${sentiment.label}`), sentiment.corrected ? " ✎" : "");
}

function mentionItem(m) {
  const author = m.author_name || m.author_handle || m.title || "";
  const relabel = el("select", { class: "relabel", "aria-label": t("lis.relabel"), onchange: (event) => relabelMention(m, event.target) },
    LABELS.map((label) => el("option", { value: label, selected: m.sentiment?.label === label }, t(`sentiment.${label}`))));
  if (!m.sentiment) relabel.prepend(el("option", { value: "", selected: true, disabled: true }, "–"));
  let action = null;
  if (m.conversation_id) action = el("a", { href: "/", class: "promoted" }, `${t("lis.in_inbox")} #${m.conversation_id}`);
  else if (m.source === "x") action = el("button", { type: "button", class: "promote", onclick: (event) => promoteMention(m, event.target) }, t("lis.promote"));
  return el("li", { class: "mention", "data-id": m.id },
    el("div", { class: "row" },
      el("span", { class: `channel channel-${m.source === "x" ? "x" : "feed"}` }, m.source === "x" ? "X" : t("lis.feed")),
      el("strong", { class: "name" }, author, m.author_handle && m.author_name ? el("small", {}, ` @${m.author_handle}`) : null),
      m.topic !== "brand" ? el("span", { class: "tag" }, m.topic) : null,
      m.language ? el("span", { class: "status-chip" }, m.language) : null,
      el("time", { class: "meta", datetime: m.published_at }, formatDateTime(m.published_at))),
    m.title && m.title !== author ? el("p", { class: "mention-title" }, m.title) : null,
    el("p", { class: "text" }, m.text),
    el("div", { class: "row mention-actions" },
      sentimentBadge(m.sentiment),
      el("label", { class: "muted" }, t("lis.relabel"), " ", relabel),
      m.link ? el("a", { href: m.link, target: "_blank", rel: "noopener noreferrer" }, t("lis.open")) : null,
      action));
}

function replaceMention(m) {
  const old = document.querySelector(`#mentions li[data-id="${m.id}"]`);
  if (old) old.replaceWith(mentionItem(m));
}

function showMentionError(error) {
  const box = $("mention-error");
  box.textContent = `${t("error.generic")} ${error.message}`;
  box.hidden = false;
}

async function relabelMention(m, select) {
  try {
    replaceMention(await api(`/api/v1/mentions/${m.id}/sentiment`, { method: "PATCH", body: { label: select.value } }));
    loadTrend();
  } catch (error) {
    showMentionError(error);
  }
}

async function promoteMention(m, button) {
  button.disabled = true;
  try {
    const conversation = await api(`/api/v1/mentions/${m.id}/promote`, { method: "POST" });
    replaceMention({ ...m, conversation_id: conversation.id });
  } catch (error) {
    button.disabled = false;
    showMentionError(error);
  }
}

async function loadMentions({ more = false } = {}) {
  try {
    const page = await api(`/api/v1/mentions?${mentionQuery(more ? listState.next : null)}`);
    const items = page.items.map(mentionItem);
    if (more) $("mentions").append(...items);
    else $("mentions").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, t("lis.none"))]));
    listState.next = page.next_cursor;
    $("mentions-more").hidden = !page.next_cursor;
    $("mention-error").hidden = true;
  } catch (error) {
    showMentionError(error);
  }
}

async function loadTrend() {
  const trend = await api(`/api/v1/mentions/trend?bucket=${listState.bucket}`);
  const fmt = listState.bucket === "hour"
    ? (item) => new Date(item.start).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" })
    : (item) => new Date(item.start).toLocaleDateString(locale, { day: "2-digit", month: "2-digit" });
  stackedBars($("chart-trend"), trend.items, {
    label: t("lis.trend"),
    xLabel: fmt,
    series: LABELS.map((label) => ({ key: label, label: t(`sentiment.${label}`), className: `bar-${label}` })),
  });
}

async function loadShareOfVoice() {
  const sov = await api("/api/v1/mentions/share-of-voice?bucket=day");
  const rows = Object.entries(sov.share).map(([topic, share]) => ({ label: topic === "brand" ? boot.brand || topic : topic, value: share }));
  horizontalBars($("chart-sov"), rows, { label: t("lis.sov"), format: (v) => formatPercent(v * 100) });
}

function alertItem(a) {
  return el("li", { class: `alert alert-${a.state}`, "data-id": a.id },
    el("div", { class: "row" },
      el("span", { class: `state state-${a.state}` }, t(`lis.alert_${a.state}`)),
      el("strong", { class: "name" }, a.title),
      el("time", { class: "meta", datetime: a.fired_at }, formatDateTime(a.fired_at))),
    el("p", { class: "meta" }, [a.rule || a.kind, a.resolved_at ? `${t("lis.resolved_at")} ${formatDateTime(a.resolved_at)}` : null].filter(Boolean).join(" · ")),
    a.deliveries.length
      ? el("ul", { class: "deliveries" }, a.deliveries.map((d) => el("li", { class: `delivery delivery-${d.state}`, title: d.last_error || "" },
          `${d.sink} · ${t(`lis.event_${d.event}`)}: `, el("span", { class: `state state-${d.state}` }, t(`lis.delivery_${d.state}`)),
          d.attempts > 1 ? ` (${d.attempts}×)` : "")))
      : el("p", { class: "meta" }, t("lis.no_sinks")));
}

async function loadAlerts() {
  const page = await api("/api/v1/alerts?limit=20");
  $("alerts").replaceChildren(...(page.items.length ? page.items.map(alertItem) : [el("li", { class: "empty" }, t("lis.no_alerts"))]));
}

async function refresh({ list = true } = {}) {
  const busy = $("mentions").contains(document.activeElement) || listState.more;
  const jobs = [loadTrend(), loadShareOfVoice(), loadAlerts()];
  if (list && !busy) jobs.push(loadMentions());
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === "rejected");
  $("live-status").textContent = failed ? `${t("error.generic")} ${failed.reason.message}` : `${t("lis.updated")} ${new Date().toLocaleTimeString(locale)}`;
  document.body.dataset.loaded = "true";
}

let typing = null;
for (const input of Object.values(filters)) {
  input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => {
    clearTimeout(typing);
    listState.more = false;
    typing = setTimeout(() => loadMentions(), input.tagName === "SELECT" ? 0 : 250);
  });
}
$("mention-filters").addEventListener("submit", (event) => event.preventDefault());
$("mentions-more").addEventListener("click", () => { listState.more = true; loadMentions({ more: true }); });
for (const button of document.querySelectorAll("[data-bucket]")) {
  button.addEventListener("click", () => {
    listState.bucket = button.dataset.bucket;
    for (const other of document.querySelectorAll("[data-bucket]")) other.setAttribute("aria-pressed", String(other === button));
    loadTrend();
  });
}
refresh();
setInterval(refresh, REFRESH_MS);
