// Small hand-written SVG charts: a week heatmap, bars, stacked bars and a line.
// Sizes are in viewBox units; the SVG scales to its box's width.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const titled = (node, text) => { node.append(svg("title", {}, text)); return node; };

function chartFrame(container, width, height, label) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "svg-chart" });
  container.replaceChildren(root);
  return root;
}

function emptyChart(container, text) {
  container.replaceChildren(el("p", { class: "chart-empty" }, text));
}

/** ``cells``: [weekday 0=Monday, hour, value] for the 168 hours of the week. */
function heatmap(container, cells, { weekdays, label }) {
  const cell = 22, left = 40, top = 16;
  const root = chartFrame(container, left + 24 * cell + 4, top + 7 * cell + 4, label);
  const max = Math.max(1, ...cells.map((c) => c[2]));
  for (let hour = 0; hour < 24; hour += 3) {
    root.append(svg("text", { x: left + hour * cell + 2, y: 11, class: "axis" }, String(hour).padStart(2, "0")));
  }
  weekdays.forEach((name, day) => {
    root.append(svg("text", { x: 0, y: top + day * cell + 15, class: "axis" }, name));
  });
  for (const [day, hour, value] of cells) {
    const level = value ? 0.15 + 0.85 * (value / max) : 0;
    const rect = svg("rect", {
      x: left + hour * cell, y: top + day * cell, width: cell - 2, height: cell - 2, rx: 3,
      class: value ? "heat" : "heat heat-zero", "fill-opacity": value ? level.toFixed(3) : null,
      "data-weekday": day, "data-hour": hour, "data-value": value,
    });
    root.append(titled(rect, `${weekdays[day]} ${String(hour).padStart(2, "0")}:00 · ${value}`));
  }
}

/** Vertical bars; ``series``: [{key, label, className}] stacked in order over ``items``. */
function stackedBars(container, items, { series, label, xLabel, height = 170 }) {
  if (!items.length) return emptyChart(container, t("chart.empty"));
  const left = 30, bottom = 22, width = 420;
  const root = chartFrame(container, width, height, label);
  const total = (item) => series.reduce((sum, s) => sum + (item[s.key] || 0), 0);
  const max = Math.max(1, ...items.map(total));
  const plot = height - bottom - 6;
  const step = (width - left) / items.length;
  root.append(svg("text", { x: 0, y: 12, class: "axis" }, formatNumber(max)));
  root.append(svg("text", { x: 0, y: height - bottom, class: "axis" }, "0"));
  root.append(svg("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, class: "baseline" }));
  const every = Math.ceil(items.length / 8);
  items.forEach((item, index) => {
    let y = height - bottom;
    const x = left + index * step + 1;
    for (const s of series) {
      const value = item[s.key] || 0;
      if (!value) continue;
      const h = (value / max) * plot;
      y -= h;
      root.append(titled(svg("rect", { x, y, width: Math.max(1, step - 2), height: h, class: `bar ${s.className}` }), `${xLabel(item)} · ${s.label}: ${value}`));
    }
    if (index % every === 0) {
      root.append(svg("text", { x, y: height - 6, class: "axis" }, xLabel(item)));
    }
  });
  legend(container, series);
}

function legend(container, series) {
  container.append(el("p", { class: "legend" }, series.map((s) => el("span", { class: `key ${s.className}` }, s.label))));
}

/** A line over ``points`` [{x label, y or null}] between ``min`` and ``max``; gaps stay gaps. */
function lineChart(container, points, { min, max, label, format = formatNumber, height = 150 }) {
  if (!points.some((p) => p.y !== null && p.y !== undefined)) return emptyChart(container, t("chart.empty"));
  const left = 34, bottom = 22, width = 420;
  const root = chartFrame(container, width, height, label);
  const plot = height - bottom - 8;
  const x = (i) => left + (points.length === 1 ? (width - left) / 2 : (i * (width - left - 8)) / (points.length - 1));
  const y = (v) => 8 + plot - ((v - min) / (max - min)) * plot;
  for (const v of [min, (min + max) / 2, max]) {
    root.append(svg("line", { x1: left, x2: width, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: 0, y: y(v) + 4, class: "axis" }, format(v)));
  }
  let path = "";
  points.forEach((p, i) => {
    if (p.y === null || p.y === undefined) { path += " "; return; }
    path += `${path.endsWith(" ") || !path ? "M" : "L"}${x(i).toFixed(1)},${y(p.y).toFixed(1)} `;
  });
  root.append(svg("path", { d: path.trim().replace(/\s+M/g, " M"), class: "line" }));
  const every = Math.ceil(points.length / 6);
  points.forEach((p, i) => {
    if (p.y !== null && p.y !== undefined) {
      root.append(titled(svg("circle", { cx: x(i), cy: y(p.y), r: 3, class: "dot" }), `${p.x}: ${format(p.y)}`));
    }
    if (i % every !== 0) return;
    // the last label ends at its point, or it would run past the chart's right edge
    const anchor = points.length === 1 ? "middle" : i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
    root.append(svg("text", { x: x(i), y: height - 6, class: "axis", "text-anchor": anchor }, p.x));
  });
}

/** Horizontal bars: [{label, value, note}] with value in 0..1 (shares) or counts. */
function horizontalBars(container, rows, { label, format = formatNumber }) {
  if (!rows.length) return emptyChart(container, t("chart.empty"));
  const rowHeight = 26, width = 420, left = 110;
  const root = chartFrame(container, width, rows.length * rowHeight + 4, label);
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  rows.forEach((row, i) => {
    const y = i * rowHeight + 4;
    root.append(svg("text", { x: 0, y: y + 15, class: "axis" }, row.label));
    root.append(svg("rect", { x: left, y, width: ((width - left - 60) * row.value) / max, height: rowHeight - 8, rx: 3, class: "bar bar-main" }));
    root.append(svg("text", { x: width - 54, y: y + 15, class: "axis" }, format(row.value)));
  });
}
