// Shared by the inbox's modules: the boot data, API calls, DOM building, formatting,
// and a confirmation dialog. Every piece of data goes in through textContent, never HTML.

export const boot = JSON.parse(document.getElementById("boot").textContent);
export const t = (key) => boot.t[key] || key;
export const $ = (id) => document.getElementById(id);
export const isAdmin = boot.role === "admin";

/** An API answer that was not 2xx; ``status`` tells a refusal (409) from a failure. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A JSON call; ``form`` (FormData) instead of ``body`` sends multipart, as an upload. */
export async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = boot.csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    let text = response.statusText;
    if (typeof detail.detail === "string") text = detail.detail;
    else if (Array.isArray(detail.detail)) text = detail.detail.map((d) => d.msg).join("; ");
    throw new ApiError(response.status, text);
  }
  return response.status === 204 ? null : response.json();
}

export function el(tag, attrs = {}, ...children) {
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

const CHANNELS = { telegram: "Telegram", whatsapp: "WhatsApp", messenger: "Messenger", x: "X" };
export const channelLabel = (c) => CHANNELS[c] || c;
export const channelBadge = (c) => el("span", { class: `channel channel-${c}` }, channelLabel(c));

const locale = navigator.language?.startsWith(boot.lang) ? navigator.language : boot.lang;
const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" });
export const formatTime = (iso) => (iso ? dateTime.format(new Date(iso)) : "");

/** "5m", "2h 10m", "3d": how long ago (or, for a future time, how long until). */
export function duration(iso) {
  const minutes = Math.floor(Math.abs(Date.now() - new Date(iso).getTime()) / 60000);
  if (minutes < 1) return t("time.now");
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

export function customerName(c) {
  return c.display_name || `#${c.id}`;
}

/** Ask before something that cannot be undone; resolves to true when confirmed. */
export function confirmAction(message, { danger = false, action = t("confirm.ok") } = {}) {
  const dialog = $("confirm");
  $("confirm-text").textContent = message;
  const ok = $("confirm-ok");
  ok.textContent = action;
  ok.classList.toggle("danger", danger);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}
