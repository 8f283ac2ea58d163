// Shared by the reports, listening, macros and settings pages: the API client, DOM helpers,
// formatters. Every piece of data goes into the page through textContent, never as HTML.
"use strict";

const boot = JSON.parse(document.getElementById("boot").textContent);
const t = (key) => boot.t[key] || key;
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail; // FastAPI's 422 list: [{loc, msg}], or a string
  }
}

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
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiError(response.status, data.detail ?? response.statusText);
  }
  return response.status === 204 ? null : response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "value") node.value = value;
    else if (name === "checked") node.checked = Boolean(value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const locale = navigator.language?.startsWith(boot.lang) ? navigator.language : boot.lang;
const numberFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
const dateTimeFormat = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
const formatNumber = (n) => (n === null || n === undefined ? "–" : numberFormat.format(n));
const formatPercent = (n) => (n === null || n === undefined ? "–" : `${numberFormat.format(n)}%`);
const formatDateTime = (iso) => (iso ? dateTimeFormat.format(new Date(iso)) : "");
const channelLabel = (c) => ({ telegram: "Telegram", whatsapp: "WhatsApp", messenger: "Messenger", x: "X" })[c] || c;

/** Seconds as "45s", "4m 10s", "2h 05m", "3d 4h"; "–" for null. */
function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Put an API error next to its field: FastAPI's 422 ``loc`` after "body" names the key
 * (``mon``, ``0.cooldown``); the box is ``[data-error="<key>"]`` inside ``form``, else
 * the form's general ``[data-error=""]`` box. */
function showErrors(form, error) {
  clearErrors(form);
  const general = form.querySelector('[data-error=""]');
  const items = Array.isArray(error.detail) ? error.detail : [{ loc: [], msg: error.message }];
  for (const item of items) {
    const path = (item.loc || []).slice(1);
    let box = null;
    for (let n = path.length; n > 0 && !box; n -= 1) {
      box = form.querySelector(`[data-error="${CSS.escape(path.slice(0, n).join("."))}"]`);
    }
    box = box || general;
    if (!box) continue;
    box.hidden = false;
    box.textContent = [box.textContent, String(item.msg).replace(/^Value error, /, "")].filter(Boolean).join(" · ");
  }
}

function clearErrors(form) {
  for (const box of form.querySelectorAll("[data-error]")) {
    box.textContent = "";
    box.hidden = true;
  }
}

function flash(node, text) {
  node.textContent = text;
  node.hidden = false;
  clearTimeout(node._timer);
  node._timer = setTimeout(() => { node.hidden = true; }, 4000);
}

// --- form fields (the settings and macros pages) ---------------------------------------

function textField(label, value, name, attrs = {}) {
  return el("label", {}, label, " ", el("input", { value: value ?? "", "data-name": name, size: 6, ...attrs }));
}

function listField(label, items, name, attrs = {}) {
  return textField(label, items.join(", "), name, { size: 24, ...attrs });
}

/** A select of ``values`` ([value, text] pairs) after a first option ``none`` (empty). */
function choice(name, selected, values, label, none) {
  return el("select", { "data-name": name, "aria-label": label },
    el("option", { value: "" }, none),
    values.map(([value, text]) => el("option", { value: String(value), selected: selected === value }, text)));
}

function errorBox(key) {
  return el("p", { class: "field-error", "data-error": key, hidden: true });
}
