// Reports, listening and settings pages: the JSON API drawn as cards, tables and SVG.
// Every piece of data goes into the page through textContent, never as HTML.
"use strict";

const boot = JSON.parse(document.getElementById("boot").textContent);
const t = (key) => boot.t[key] || key;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = boot.csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { window.location.assign("/login"); throw new Error("signed out"); }
  const data = response.status === 204 ? null : await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data && data.detail;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail || response.statusText));
  }
  return data;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

const number = (value, digits = 0) =>
  value === null || value === undefined ? "–" : Number(value).toFixed(digits);

// --- reports -----------------------------------------------------------------------

function card(label, value, detail) {
  const node = el("div", null, "card");
  node.append(el("span", label, "card-label"), el("strong", value, "card-value"));
  if (detail) node.append(el("small", detail));
  return node;
}

function timeCard(label, figure) {
  return card(label, duration(figure.avg_s),
    `${t("reports.median")} ${duration(figure.median_s)} · p90 ${duration(figure.p90_s)}`);
}

function heatmap(rows) {
  const cell = 14, left = 34, top = 16;
  const max = Math.max(1, ...rows.map((r) => r[2]));
  const root = svg("svg", { width: left + 24 * cell, height: top + 7 * cell, role: "img",
    "aria-label": t("reports.heatmap") });
  const days = t("reports.weekdays").split(",");
  days.forEach((day, i) => {
    const label = svg("text", { x: 0, y: top + i * cell + 11, "font-size": 10 });
    label.textContent = day;
    root.append(label);
  });
  for (let h = 0; h < 24; h += 3) {
    const label = svg("text", { x: left + h * cell, y: 10, "font-size": 9 });
    label.textContent = String(h);
    root.append(label);
  }
  for (const [weekday, hour, count] of rows) {
    const rect = svg("rect", { x: left + hour * cell, y: top + weekday * cell, width: cell - 1,
      height: cell - 1, fill: "#2f6fde", "fill-opacity": (0.06 + 0.94 * count / max).toFixed(2),
      class: "heat-cell" });
    const title = svg("title");
    title.textContent = `${days[weekday]} ${hour}:00 – ${count}`;
    rect.append(title);
    root.append(rect);
  }
  return root;
}

function bars(items) {
  const width = 300, barHeight = 16, max = Math.max(1, ...items.map((i) => i.value));
  const root = svg("svg", { width: width + 90, height: items.length * (barHeight + 4), role: "img" });
  items.forEach((item, index) => {
    const y = index * (barHeight + 4);
    const label = svg("text", { x: 0, y: y + 12, "font-size": 11 });
    label.textContent = item.label;
    const bar = svg("rect", { x: 60, y, height: barHeight, width: Math.max(1, width * item.value / max),
      fill: item.color || "#2f6fde" });
    const value = svg("text", { x: 64 + width * item.value / max, y: y + 12, "font-size": 11 });
    value.textContent = String(item.value);
    root.append(label, bar, value);
  });
  return root;
}

function lines(days, series) {
  const width = 420, height = 120, pad = 20;
  const root = svg("svg", { width, height: height + 20, role: "img" });
  const step = days.length > 1 ? (width - 2 * pad) / (days.length - 1) : 0;
  for (const { key, color, low, high } of series) {
    const points = days
      .map((day, i) => [i, day[key]])
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([i, v]) => [pad + i * step, pad + (height - 2 * pad) * (1 - (v - low) / (high - low))]);
    root.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none",
      stroke: color, "stroke-width": 2 }));
    for (const [x, y] of points) root.append(svg("circle", { cx: x, cy: y, r: 3, fill: color }));
  }
  series.forEach(({ label, color }, i) => {
    const legend = svg("text", { x: pad + i * 160, y: height + 14, "font-size": 11, fill: color });
    legend.textContent = label;
    root.append(legend);
  });
  return root;
}

async function loadReport() {
  const params = new URLSearchParams({ from: $("report-from").value, to: $("report-to").value,
    business_time: $("report-business").checked ? "true" : "false" });
  if ($("report-channel").value) params.set("channel", $("report-channel").value);
  const path = `/api/v1/reports/kpis?${params}`;
  $("report-json").href = path;
  $("report-error").hidden = true;
  let kpis;
  try { kpis = await api(path); } catch (error) {
    $("report-error").textContent = error.message;
    $("report-error").hidden = false;
    return;
  }
  $("report-cards").replaceChildren(
    card(t("reports.conversations"), kpis.conversations),
    card(t("reports.messages"), `${kpis.messages_in} / ${kpis.messages_out}`, t("reports.in_out")),
    card(t("reports.backlog"), kpis.backlog),
    timeCard(t("reports.first_response"), kpis.first_response_time),
    timeCard(t("reports.reply_time"), kpis.reply_time),
    timeCard(t("reports.resolution_time"), kpis.resolution_time),
    card(t("reports.resolution_rate"), `${number(kpis.resolution_rate, 1)} %`),
    card(t("reports.fcr"), `${number(kpis.first_contact_resolution_rate, 1)} %`),
    card("CSAT", number(kpis.csat.avg, 2), `${kpis.csat.responses} ${t("reports.responses")}`),
    card("NPS", number(kpis.nps.score, 0), `${kpis.nps.responses} ${t("reports.responses")}`),
    card("CES", number(kpis.ces.avg, 2), `${kpis.ces.responses} ${t("reports.responses")}`),
  );
  $("chart-heatmap").replaceChildren(heatmap(kpis.volume_by_hour));
  $("chart-distribution").replaceChildren(bars((kpis.reply_time_distribution || [])
    .map((b) => ({ label: b.label, value: b.count }))));
  $("chart-trend").replaceChildren(lines(kpis.volume_by_day || [], [
    { key: "sentiment_avg", label: t("reports.sentiment"), color: "#c0392b", low: -1, high: 1 },
    { key: "csat_avg", label: "CSAT", color: "#1e8449", low: 1, high: 5 },
  ]));
}

function initReports() {
  const today = new Date();
  const start = new Date(today.getTime() - 29 * 86400000);
  $("report-to").value = today.toISOString().slice(0, 10);
  $("report-from").value = start.toISOString().slice(0, 10);
  $("report-form").addEventListener("submit", (event) => { event.preventDefault(); loadReport(); });
  loadReport();
}

// --- listening ----------------------------------------------------------------------

async function initListening() {
  const [mentions, trend, alerts] = await Promise.all([
    api("/api/v1/mentions?limit=50"),
    api("/api/v1/mentions/trend?bucket=day"),
    api("/api/v1/alerts?limit=20"),
  ]);
  const rows = (trend.items || trend.buckets || []).slice(-14);
  $("chart-mentions").replaceChildren(bars(rows.flatMap((row) => [
    { label: `${String(row.start || row.bucket || "").slice(5, 10)} −`, value: row.negative || 0, color: "#c0392b" },
    { label: "+", value: row.positive || 0, color: "#1e8449" },
  ])));
  $("alerts").replaceChildren(...(alerts.items || []).map((alert) => {
    const item = el("li", null, `alert alert-${alert.state}`);
    item.append(el("strong", alert.title), el("small", ` ${alert.state} · ${alert.fired_at}`));
    return item;
  }));
  $("mentions").replaceChildren(...(mentions.items || []).map((mention) => {
    const row = el("tr");
    const label = mention.sentiment ? mention.sentiment.label : "–";
    row.append(el("td", String(mention.published_at || "").slice(0, 16).replace("T", " ")),
      el("td", mention.source), el("td", mention.author_handle || mention.author_name || "–"),
      el("td", mention.text), el("td", label, `sentiment-${label}`));
    return row;
  }));
}

// --- settings -----------------------------------------------------------------------

async function showHoursStatus() {
  const status = await api("/api/v1/settings/business-hours/status");
  $("hours-status").textContent = status.open
    ? t("settings.open_now")
    : `${t("settings.closed_now")} ${status.next_open_text || ""}`;
}

function initSettings() {
  for (const form of document.querySelectorAll(".settings-form")) {
    const section = form.dataset.section;
    const area = form.querySelector("textarea");
    const result = form.querySelector(".result");
    api(`/api/v1/settings/${section}`).then((value) => { area.value = JSON.stringify(value, null, 2); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      result.textContent = "";
      let body;
      try { body = JSON.parse(area.value); } catch (error) {
        result.textContent = `${t("settings.not_json")}: ${error.message}`;
        return;
      }
      try {
        const saved = await api(`/api/v1/settings/${section}`, { method: "PUT", body });
        area.value = JSON.stringify(saved, null, 2);
        result.textContent = t("settings.saved");
        showHoursStatus();
      } catch (error) {
        result.textContent = error.message;
      }
    });
  }
  showHoursStatus();
}

const page = document.body.classList;
if (page.contains("reports-page")) initReports();
if (page.contains("listening-page")) initListening();
if (page.contains("settings-page")) initSettings();
