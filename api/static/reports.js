// The reports page: KPI cards, the tables by agent, by channel and by team, and charts
// for a period, from GET /api/v1/reports/kpis, /agents, /channels and /teams.
"use strict";

const WEEKDAYS = () => t("rep.weekdays").split(",");
const FIELDS = ["from", "to", "channel", "agent", "tag", "team", "business_time"];
const inputs = {
  from: $("rep-from"), to: $("rep-to"), channel: $("rep-channel"), agent: $("rep-agent"),
  tag: $("rep-tag"), team: $("rep-team"), business_time: $("rep-business"),
};

const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

function preset(days) {
  const today = new Date();
  const start = new Date(today);
  start.setDate(today.getDate() - (days - 1));
  inputs.from.value = isoDay(start);
  inputs.to.value = isoDay(today);
}

function params() {
  const query = new URLSearchParams();
  for (const name of FIELDS) {
    const input = inputs[name];
    if (input.type === "checkbox") { if (input.checked) query.set(name, "true"); }
    else if (input.value.trim()) query.set(name, input.value.trim());
  }
  return query;
}

function fromLocation() {
  const query = new URLSearchParams(window.location.search);
  for (const name of FIELDS) {
    if (!query.has(name)) continue;
    if (name === "business_time") inputs[name].checked = query.get(name) === "true";
    else inputs[name].value = query.get(name);
  }
  if (!query.has("from") && !query.has("to")) preset(7);
}

// --- cards --------------------------------------------------------------------------

function card(key, title, figure, ...notes) {
  return el("article", { class: "card", "data-kpi": key },
    el("h3", {}, title),
    el("p", { class: "figure" }, figure),
    notes.filter(Boolean).map((note) => el("p", { class: "note" }, note)));
}

function timeCard(key, stats) {
  return el("article", { class: "card card-time", "data-kpi": key },
    el("h3", {}, t(`kpi.${key}`)),
    el("dl", { class: "stats" },
      [["avg", stats.avg_s], ["median", stats.median_s], ["p90", stats.p90_s]].map(([name, value]) => [
        el("dt", {}, t(`kpi.${name}`)),
        el("dd", { "data-stat": name, "data-seconds": value ?? "" }, formatDuration(value)),
      ])),
    el("p", { class: "note" }, `${t("kpi.count")}: ${stats.count}`));
}

function renderCards(r) {
  const cases = r.cases;
  const survey = (s) => `${s.responses} ${t("kpi.responses")} / ${s.asked} ${t("kpi.asked")}`;
  $("kpi-cards").replaceChildren(
    card("conversations", t("kpi.conversations"), formatNumber(r.conversations), `${t("kpi.new")}: ${r.new_conversations}`),
    card("messages_in", t("kpi.messages_in"), formatNumber(r.messages_in)),
    card("messages_out", t("kpi.messages_out"), formatNumber(r.messages_out),
      `${t("kpi.agent")}: ${r.messages_out_agent} · ${t("kpi.bot")}: ${r.messages_out_bot}`),
    card("backlog", t("kpi.backlog"), formatNumber(r.backlog),
      `${t("kpi.waiting")}: ${r.waiting_for_reply} · ${t("kpi.oldest")}: ${formatDuration(r.backlog_age.max_s)}`),
    timeCard("first_response_time", r.first_response_time),
    timeCard("reply_time", r.reply_time),
    timeCard("resolution_time", r.resolution_time),
    timeCard("handling_time", r.handling_time),
    card("resolution_rate", t("kpi.resolution_rate"), formatPercent(r.resolution_rate),
      `${cases.resolved} / ${cases.open_at_start + cases.started} ${t("kpi.cases")}`),
    card("first_contact_resolution_rate", t("kpi.fcr"), formatPercent(r.first_contact_resolution_rate)),
    card("csat", "CSAT", r.csat.avg === null ? "–" : `${formatNumber(r.csat.avg)} / 5`,
      `${t("kpi.satisfied")}: ${formatPercent(r.csat.satisfied_pct)}`, survey(r.csat)),
    card("nps", "NPS", formatNumber(r.nps.score),
      `${r.nps.promoters} / ${r.nps.passives} / ${r.nps.detractors} (${t("kpi.nps_split")})`, survey(r.nps)),
    card("ces", "CES", r.ces.avg === null ? "–" : `${formatNumber(r.ces.avg)} / 7`, survey(r.ces)),
    card("retention", t("kpi.retention"), formatPercent(r.retention.rate),
      `${t("kpi.customers")}: ${r.retention.customers_at_start} → ${r.retention.customers_at_end} (${t("kpi.new")}: ${r.retention.new_customers})`),
  );
}

// --- by agent, by channel, by team -------------------------------------------------

/** The row's name: a click shows the whole page for that agent (channel, team) alone. */
function nameCell(key, value) {
  if (value === null) {
    return el("th", { scope: "row", class: "muted" }, t(key === "team" ? "rep.no_team" : "rep.unassigned"));
  }
  const shown = key === "channel" ? channelLabel(value) : value;
  const only = el("button", { type: "button", class: "link",
    title: t(`rep.only_${key}`).replace(`{${key}}`, shown) }, shown);
  only.addEventListener("click", () => { inputs[key].value = value; load(); });
  return el("th", { scope: "row" }, only);
}

function median(stats) {
  return el("td", { "data-seconds": stats.median_s ?? "" }, formatDuration(stats.median_s));
}

function renderBreakdown(split, key, report) {
  $(`${split}-table`).tBodies[0].replaceChildren(...report[split].map((row) =>
    el("tr", { [`data-${key}`]: row[key] ?? "" },
      nameCell(key, row[key]),
      el("td", { "data-figure": "conversations" }, formatNumber(row.conversations)),
      key === "agent"
        ? el("td", { "data-figure": "replies_sent" }, formatNumber(row.replies_sent))
        : el("td", { "data-figure": "messages_in" }, formatNumber(row.messages_in)),
      median(row.first_response_time),
      median(row.reply_time),
      median(row.resolution_time),
      el("td", { "data-figure": "resolved" }, formatNumber(row.cases.resolved)),
      el("td", {}, formatPercent(row.first_contact_resolution_rate)),
      el("td", { "data-figure": "backlog" }, formatNumber(row.backlog)),
      el("td", { "data-figure": "csat" },
        row.csat.avg === null ? "–" : `${formatNumber(row.csat.avg)} (${row.csat.responses})`))));
}

// --- why a low score -----------------------------------------------------------------

function renderComments(list) {
  const time = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const items = list.comments.map((c) => el("li", { class: "comment", "data-survey": c.survey_id },
    el("span", { class: "score", title: c.kind.toUpperCase() }, `${c.kind.toUpperCase()} ${c.score}`),
    el("q", {}, c.comment),
    el("span", { class: "muted" },
      ` — ${c.customer_name || "?"} · ${channelLabel(c.channel)}${c.assignee ? ` · @${c.assignee}` : ""} · ${time.format(new Date(c.commented_at))} `),
    el("a", { href: `/?conversation=${c.conversation_id}` }, t("rep.open"))));
  $("survey-comments").replaceChildren(
    ...(items.length ? items : [el("li", { class: "muted" }, t("rep.comments_none"))]));
}

// --- charts -------------------------------------------------------------------------

function renderCharts(r) {
  heatmap($("chart-heatmap"), r.volume_by_hour, { weekdays: WEEKDAYS(), label: t("rep.heatmap") });
  const day = (item) => item.date.slice(5);
  stackedBars($("chart-volume"), r.volume_by_day, {
    label: t("rep.volume"),
    xLabel: day,
    series: [
      { key: "messages_in", label: t("kpi.messages_in"), className: "bar-in" },
      { key: "messages_out", label: t("kpi.messages_out"), className: "bar-out" },
    ],
  });
  stackedBars($("chart-distribution"), r.reply_time_distribution, {
    label: t("rep.distribution"),
    xLabel: (bucket) => bucket.label,
    series: [{ key: "count", label: t("kpi.reply_time"), className: "bar-main" }],
  });
  lineChart($("chart-sentiment"), r.volume_by_day.map((d) => ({ x: day(d), y: d.sentiment_avg })), {
    min: -1, max: 1, label: t("rep.sentiment_trend"), format: (v) => v.toFixed(2),
  });
  lineChart($("chart-csat"), r.volume_by_day.map((d) => ({ x: day(d), y: d.csat_avg })), {
    min: 1, max: 5, label: t("rep.csat_trend"),
  });
}

// --- loading ------------------------------------------------------------------------

async function load() {
  const query = params();
  const search = query.toString();
  window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  const csv = new URLSearchParams(query);
  csv.set("format", "csv");
  $("export-csv").href = `/api/v1/reports/kpis?${csv}`;
  $("export-json").href = `/api/v1/reports/kpis?${search}`;
  $("export-agents-csv").href = `/api/v1/reports/agents?${csv}`;
  $("export-channels-csv").href = `/api/v1/reports/channels?${csv}`;
  $("export-teams-csv").href = `/api/v1/reports/teams?${csv}`;
  const box = $("report-error");
  try {
    const [report, agents, channels, teams, comments] = await Promise.all(
      ["kpis", "agents", "channels", "teams", "comments"].map((name) => api(`/api/v1/reports/${name}?${search}`)));
    box.hidden = true;
    const local = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone: report.timezone });
    $("report-period").textContent = `${local.format(new Date(report.from))} → ${local.format(new Date(report.to))} (${report.timezone})${report.business_time ? ` · ${t("rep.business_time")}` : ""}`;
    renderCards(report);
    renderBreakdown("agents", "agent", agents);
    renderBreakdown("channels", "channel", channels);
    renderBreakdown("teams", "team", teams);
    renderComments(comments);
    renderCharts(report);
    document.body.dataset.loaded = "true";
  } catch (error) {
    box.textContent = `${t("error.generic")} ${error.message}`;
    box.hidden = false;
  }
}

$("report-filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
for (const button of document.querySelectorAll("[data-days]")) {
  button.addEventListener("click", () => { preset(Number(button.dataset.days)); load(); });
}
inputs.business_time.addEventListener("change", load);
api("/api/v1/teams").then((teams) => $("rep-teams").replaceChildren(
  ...teams.map((team) => el("option", { value: team.name })))).catch((error) => console.error(error));
fromLocation();
load();
