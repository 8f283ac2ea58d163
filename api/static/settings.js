// The settings page (admins): business hours, away messages, SLA policies, triage rules,
// automatic assignment, users, teams and personal API tokens. Each form PUTs/POSTs its whole section; a 422
// is shown next to the field it names.
"use strict";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const CHANNELS = JSON.parse($("channels").textContent);
const TEXT_LANGUAGES = ["it", "en"];
const HOURS_DEFAULT = { timezone: "Europe/Rome", holidays: "IT", closures: [], openings: [] };

function saved(form) {
  flash(form.querySelector(".saved"), t("set.saved"));
}

function removeButton(label) {
  return el("button", { type: "button", class: "small ghost remove", "aria-label": label, title: label, onclick: (event) => event.currentTarget.parentElement.remove() }, "×");
}

// --- business hours -----------------------------------------------------------------

function periodRow(day, text = "") {
  const [start = "", end = ""] = text ? text.split("-") : [];
  const overnight = el("span", { class: "overnight" }, t("set.next_day"));
  const from = el("input", { type: "time", value: start, "data-part": "start", "aria-label": `${t(`day.${day}`)} ${t("set.from")}` });
  const to = el("input", { type: "time", value: end === "24:00" ? "00:00" : end, "data-part": "end", "aria-label": `${t(`day.${day}`)} ${t("set.to")}` });
  const update = () => { overnight.hidden = !(from.value && to.value && to.value <= from.value); };
  from.addEventListener("input", update);
  to.addEventListener("input", update);
  update();
  return el("span", { class: "period" }, from, "–", to, overnight, removeButton(t("set.remove")));
}

function intervalRow(kind, text = "") {
  return el("span", { class: "interval" },
    el("input", { value: text, size: 30, placeholder: "2026-12-24T13:00/2026-12-27T00:00", "aria-label": t(`set.${kind}`) }),
    removeButton(t("set.remove")));
}

function fillHours(hours) {
  $("hours-none").hidden = hours !== null;
  const value = hours || HOURS_DEFAULT;
  $("hours-timezone").value = value.timezone;
  $("hours-holidays").value = value.holidays || "";
  for (const day of DAYS) {
    document.querySelector(`[data-periods="${day}"]`).replaceChildren(...(value[day] || []).map((p) => periodRow(day, p)));
  }
  for (const kind of ["closures", "openings"]) {
    document.querySelector(`[data-intervals="${kind}"]`).replaceChildren(...value[kind].map((i) => intervalRow(kind, i)));
  }
}

function readHours() {
  const body = { timezone: $("hours-timezone").value.trim(), holidays: $("hours-holidays").value.trim() || null };
  for (const day of DAYS) {
    body[day] = [...document.querySelectorAll(`[data-periods="${day}"] .period`)].map((row) => {
      const start = row.querySelector('[data-part="start"]').value;
      const end = row.querySelector('[data-part="end"]').value;
      return `${start}-${end === "00:00" ? "24:00" : end}`;
    });
  }
  for (const kind of ["closures", "openings"]) {
    body[kind] = [...document.querySelectorAll(`[data-intervals="${kind}"] input`)].map((i) => i.value.trim()).filter(Boolean);
  }
  return body;
}

async function loadStatus() {
  const status = await api(`/api/v1/settings/business-hours/status?language=${boot.lang}`);
  const line = $("hours-status");
  line.dataset.open = String(status.open);
  const parts = [status.open ? t("set.open_now") : t("set.closed_now")];
  if (status.open && status.next_close) parts.push(`${t("set.closes")} ${formatDateTime(status.next_close)}`);
  if (!status.open && status.next_open) parts.push(`${t("set.next_open")}: ${status.next_open_text || formatDateTime(status.next_open)}`);
  if (status.holiday) parts.push(`${t("set.holiday")}: ${status.holiday}`);
  if (status.closure) parts.push(t("set.closure_now"));
  parts.push(status.timezone);
  line.textContent = parts.join(" · ");
}

async function loadHours() {
  fillHours(await api("/api/v1/settings/business-hours"));
}

// --- away messages ------------------------------------------------------------------

function channelBoxes(selected, prefix) {
  return el("span", { class: "checks" }, CHANNELS.map((c) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: c, checked: selected.includes(c), "data-channel": prefix }), channelLabel(c))));
}

function ruleCard(rule, index) {
  const languages = [...new Set([...TEXT_LANGUAGES, ...Object.keys(rule.text || {})])];
  return el("fieldset", { class: "rule" },
    el("legend", {}, `${t("set.rule")} ${index + 1}`),
    el("div", { class: "fields" },
      el("span", { class: "muted" }, t("filter.channel")), channelBoxes(rule.channels, "channels")),
    errorBox(`${index}.channels`),
    el("div", { class: "fields" },
      el("label", {}, t("set.when"), " ", el("select", { "data-name": "when" },
        ["closed", "always"].map((w) => el("option", { value: w, selected: rule.when === w }, t(`set.when_${w}`))))),
      textField(t("set.cooldown"), rule.cooldown, "cooldown"),
      textField(t("set.quiet_after_agent"), rule.quiet_after_agent, "quiet_after_agent"),
      textField(t("set.max_age"), rule.max_age, "max_age"),
      el("label", { class: "check" }, el("input", { type: "checkbox", "data-name": "public", checked: rule.public }), t("set.public"))),
    ["when", "cooldown", "quiet_after_agent", "max_age"].map((k) => errorBox(`${index}.${k}`)),
    languages.map((lang) => el("label", { class: "text-field" }, `${t("set.text")} (${lang})`,
      el("textarea", { rows: 2, "data-lang": lang }, rule.text?.[lang] || ""))),
    errorBox(`${index}.text`),
    el("button", { type: "button", class: "small ghost", onclick: (event) => removeCard(event, ruleCard, readRule) }, t("set.remove_rule")));
}

function readRule(card) {
  const value = (name) => card.querySelector(`[data-name="${name}"]`).value.trim();
  const text = {};
  for (const area of card.querySelectorAll("textarea[data-lang]")) if (area.value.trim()) text[area.dataset.lang] = area.value.trim();
  return {
    channels: [...card.querySelectorAll('[data-channel="channels"]:checked')].map((c) => c.value),
    when: value("when"),
    cooldown: value("cooldown"),
    quiet_after_agent: value("quiet_after_agent"),
    max_age: value("max_age"),
    public: card.querySelector('[data-name="public"]').checked,
    text,
  };
}

/** Remove a rule or policy and number the rest again (error boxes are keyed by index). */
function removeCard(event, make, read) {
  const card = event.currentTarget.closest("fieldset");
  const container = card.parentElement;
  card.remove();
  container.replaceChildren(...[...container.children].map(read).map(make));
}

async function loadAway() {
  const rules = await api("/api/v1/settings/away-messages");
  $("away-rules").replaceChildren(...rules.map(ruleCard));
}

// --- SLA policies -------------------------------------------------------------------

function policyCard(policy, index) {
  return el("fieldset", { class: "rule" },
    el("legend", {}, `${t("set.policy")} ${index + 1}`),
    el("div", { class: "fields" },
      textField(t("set.name"), policy.name, "name", { size: 10 }),
      el("span", { class: "muted" }, t("filter.channel")), channelBoxes(policy.channels, "channels"),
      textField(t("set.priorities"), policy.priorities.join(", "), "priorities", { placeholder: t("set.all") }),
      textField(t("set.sla_teams"), (policy.teams || []).join(", "), "teams", { placeholder: t("set.all") })),
    ["name", "channels", "priorities", "teams"].map((k) => errorBox(`${index}.${k}`)),
    el("div", { class: "fields" },
      textField(t("set.first_response"), policy.first_response, "first_response"),
      textField(t("set.resolution"), policy.resolution, "resolution"),
      textField(t("set.warn_before"), policy.warn_before, "warn_before"),
      el("label", { class: "check" }, el("input", { type: "checkbox", "data-name": "business_time", checked: policy.business_time }), t("rep.business_time"))),
    ["first_response", "resolution", "warn_before"].map((k) => errorBox(`${index}.${k}`)),
    el("button", { type: "button", class: "small ghost", onclick: (event) => removeCard(event, policyCard, readPolicy) }, t("set.remove_policy")));
}

function readPolicy(card) {
  const value = (name) => card.querySelector(`[data-name="${name}"]`).value.trim();
  const optional = (name) => value(name) || null;
  const priorities = value("priorities");
  return {
    name: value("name"),
    channels: [...card.querySelectorAll('[data-channel="channels"]:checked')].map((c) => c.value),
    priorities: priorities ? priorities.split(",").map((p) => p.trim()).map((p) => (/^-?\d+$/.test(p) ? Number(p) : p)) : [],
    teams: value("teams").split(",").map((name) => name.trim()).filter(Boolean),
    first_response: optional("first_response"),
    resolution: optional("resolution"),
    warn_before: optional("warn_before"),
    business_time: card.querySelector('[data-name="business_time"]').checked,
  };
}

async function loadSla() {
  const policies = await api("/api/v1/settings/sla");
  $("sla-policies").replaceChildren(...policies.map(policyCard));
}

// --- triage rules -------------------------------------------------------------------

const SENTIMENTS = ["negative", "neutral", "positive"];

function triageCard(rule, index) {
  return el("fieldset", { class: "rule", "data-rule": index },
    el("legend", {}, `${t("set.rule")} ${index + 1}`),
    el("div", { class: "fields" },
      textField(t("set.name"), rule.name, "name", { size: 12 }),
      el("span", { class: "muted" }, t("filter.channel")), channelBoxes(rule.channels, "channels")),
    ["name", "channels"].map((k) => errorBox(`${index}.${k}`)),
    el("div", { class: "fields" },
      listField(t("set.keywords"), rule.keywords, "keywords", { placeholder: "rimbors*, refund, money back", size: 30 }),
      listField(t("set.languages"), rule.languages, "languages", { placeholder: t("set.any"), size: 6 }),
      el("label", {}, t("set.sentiment"), " ", choice("sentiment", rule.sentiment,
        SENTIMENTS.map((s) => [s, t(`sentiment.${s}`)]), t("set.sentiment"), t("set.any")))),
    ["keywords", "languages", "sentiment"].map((k) => errorBox(`${index}.${k}`)),
    el("div", { class: "fields" },
      listField(t("set.add_tags"), rule.add_tags, "add_tags", { size: 16 }),
      el("label", {}, t("set.raise_priority"), " ", choice("priority", rule.priority,
        [1, 2, 3].map((p) => [p, t(`priority.${p}`)]), t("set.raise_priority"), t("set.unchanged"))),
      textField(t("set.assign_to"), rule.assign, "assign", { size: 10, list: "rule-agents", placeholder: t("set.nobody") }),
      textField(t("set.team_to"), rule.team, "team", { size: 10, list: "rule-teams", placeholder: t("set.no_team") }),
      el("label", { class: "check" }, el("input", { type: "checkbox", "data-name": "stop", checked: rule.stop }), t("set.rule_stop"))),
    ["add_tags", "priority", "assign", "team"].map((k) => errorBox(`${index}.${k}`)),
    [...new Set([...TEXT_LANGUAGES, ...Object.keys(rule.answer || {})])].map((lang) =>
      el("label", { class: "text-field" }, `${t("set.rule_answer")} (${lang})`,
        el("textarea", { rows: 2, "data-answer": lang, placeholder: t("set.rule_answer_hint") }, rule.answer?.[lang] || ""))),
    errorBox(`${index}.answer`),
    errorBox(`${index}`),
    el("button", { type: "button", class: "small ghost", onclick: (event) => removeCard(event, triageCard, readTriage) }, t("set.remove_rule")));
}

function readTriage(card) {
  const value = (name) => card.querySelector(`[data-name="${name}"]`).value.trim();
  const list = (name) => value(name).split(",").map((item) => item.trim()).filter(Boolean);
  return {
    name: value("name"),
    channels: [...card.querySelectorAll('[data-channel="channels"]:checked')].map((c) => c.value),
    keywords: list("keywords"),
    languages: list("languages").map((code) => code.toLowerCase()),
    sentiment: value("sentiment") || null,
    add_tags: list("add_tags"),
    priority: value("priority") ? Number(value("priority")) : null,
    assign: value("assign") || null,
    team: value("team") || null,
    answer: Object.fromEntries([...card.querySelectorAll("textarea[data-answer]")]
      .filter((area) => area.value.trim()).map((area) => [area.dataset.answer, area.value.trim()])),
    stop: card.querySelector('[data-name="stop"]').checked,
  };
}

/** What the rules in the form (saved or not) would do with a customer's message. */
async function tryTriage() {
  const form = $("rules-form");
  clearErrors(form);
  const body = {
    text: $("rule-try-text").value.trim(),
    channel: $("rule-try-channel").value,
    rules: [...$("triage-rules").children].map(readTriage),
  };
  try {
    const r = await api("/api/v1/settings/triage-rules/preview", { method: "POST", body });
    const changes = [r.tags.map((tag) => `+${tag}`).join(" "),
      r.priority === null ? "" : t(`priority.${r.priority}`),
      r.assignee ? `→ ${r.assignee}` : "", r.team ? `→ ${r.team}` : "",
      r.answer ? `${t("set.rule_answers")} “${r.answer}”` : ""].filter(Boolean).join(" · ");
    const scored = [r.language, r.sentiment && t(`sentiment.${r.sentiment}`)].filter(Boolean).join(", ");
    const result = $("rule-try-result");
    result.textContent = r.rules.length
      ? `${t("set.try_matches")} ${r.rules.join(", ")}: ${changes} (${scored})`
      : `${t("set.try_none")} (${scored})`;
    result.hidden = false;
  } catch (error) {
    showErrors(form, error);
  }
}

async function loadTriage() {
  const [rules, agents, teams] = await Promise.all([api("/api/v1/settings/triage-rules"), api("/api/v1/agents"), api("/api/v1/teams")]);
  $("rule-agents").replaceChildren(...agents.map((a) => el("option", { value: a.name })));
  $("rule-teams").replaceChildren(...teams.map((team) => el("option", { value: team.name })));
  $("triage-rules").replaceChildren(...rules.map(triageCard));
}

function fillAssignment(rule) {
  const fields = $("assignment-form").elements;
  fields.namedItem("mode").value = rule.mode;
  fields.namedItem("max_open_per_agent").value = String(rule.max_open_per_agent);
}

function readAssignment() {
  const fields = $("assignment-form").elements;
  const cap = fields.namedItem("max_open_per_agent").value.trim();
  return { mode: fields.namedItem("mode").value, max_open_per_agent: cap === "" ? 0 : Number(cap) };
}

async function loadAssignment() {
  fillAssignment(await api("/api/v1/settings/assignment"));
}

// --- users and tokens ---------------------------------------------------------------

async function loadUsers() {
  const users = await api("/api/v1/users");
  const list = $("users");
  list.dataset.drawn = String(Number(list.dataset.drawn || 0) + 1); // tests wait for a redraw
  list.replaceChildren(...users.map((u) => el("li", { "data-user": u.name },
    el("strong", {}, u.name), ` (${u.role}) · ${formatDateTime(u.created_at)} · `,
    el("span", { class: u.available ? "available" : "muted" }, u.available ? t("set.available") : t("set.unavailable")),
    u.available ? el("button", { type: "button", class: "link",
      onclick: () => saveUser(u.id, { available: false }) }, t("set.make_unavailable")) : null,
    ` · ${u.open_conversations} ${t("set.open_conversations")} · `,
    el("label", {}, `${t("set.speaks")} `, el("input", {
      value: u.languages.join(", "), size: 6, placeholder: "it, en",
      "aria-label": `${t("set.speaks")}: ${u.name}`,
      onchange: (event) => saveUser(u.id, { languages: codes(event.target.value) }),
      onkeydown: (event) => { // Enter saves this field, not the new-user form around it
        if (event.key !== "Enter") return;
        event.preventDefault();
        event.target.blur();
      },
    })),
    " · ", el("span", { class: "muted" }, t("set.handles")), " ",
    el("span", { onchange: (event) => saveUser(u.id, { channels: handled(event.currentTarget) }) },
      channelBoxes(u.channels, "handles")))));
}

// Teams: their members ticked among the users; each change saved at once. A rename carries
// the team's conversations, triage rules and SLA policies along.
async function loadTeams() {
  const [teams, users] = await Promise.all([api("/api/v1/teams"), api("/api/v1/users")]);
  $("teams").replaceChildren(...teams.map((team) => el("li", { "data-team": team.name },
    el("strong", {}, team.name), ` · ${team.open_conversations} ${t("set.open_conversations")} · `,
    el("span", { class: "checks", onchange: (event) => saveTeam(team.name, membersOf(event.currentTarget)) },
      users.map((u) => el("label", { class: "check" },
        el("input", { type: "checkbox", value: u.name, checked: team.members.includes(u.name), "data-member": team.name }), u.name))),
    " ", renameField(team.name),
    " ", el("button", { type: "button", class: "small ghost", onclick: () => deleteTeam(team.name) }, t("set.remove_team")))));
}

function renameField(name) {
  const input = el("input", { size: 10, value: name, "aria-label": t("set.new_team_name").replace("{team}", name) });
  const rename = async () => {
    if (!input.value.trim() || input.value.trim() === name) return;
    const form = $("teams-form");
    clearErrors(form);
    try {
      await api(`/api/v1/teams/${encodeURIComponent(name)}`, { method: "PATCH", body: { name: input.value.trim() } });
      await loadTeams();
    } catch (error) {
      showErrors(form, error);
    }
  };
  return el("span", { class: "rename" }, input,
    el("button", { type: "button", class: "small ghost", onclick: rename }, t("set.rename_team")));
}

const membersOf = (boxes) => [...boxes.querySelectorAll("input:checked")].map((box) => box.value);

async function saveTeam(name, members) {
  const form = $("teams-form");
  clearErrors(form);
  try {
    await api(`/api/v1/teams/${encodeURIComponent(name)}`, { method: "PUT", body: { members } });
    await loadTeams();
  } catch (error) {
    showErrors(form, error);
  }
}

async function deleteTeam(name) {
  await api(`/api/v1/teams/${encodeURIComponent(name)}`, { method: "DELETE" });
  await loadTeams();
}

function codes(text) {
  return text.split(/[\s,]+/).filter(Boolean).map((code) => code.toLowerCase());
}

function handled(boxes) {
  return [...boxes.querySelectorAll('[data-channel="handles"]:checked')].map((c) => c.value);
}

// What automatic assignment knows of an agent: the languages they speak (their customers
// come to them first), the channels they handle, whether they take conversations now.
async function saveUser(userId, change) {
  const form = $("users-form");
  clearErrors(form);
  try {
    await api(`/api/v1/users/${userId}`, { method: "PATCH", body: change });
    await loadUsers();
  } catch (error) {
    showErrors(form, error);
  }
}

async function loadTokens() {
  try {
    const tokens = await api("/api/v1/tokens");
    $("tokens").replaceChildren(...tokens.map((tok) => el("li", {},
      el("strong", {}, tok.label), ` ${tok.prefix}… · ${tok.last_used_at ? `${t("set.last_used")} ${formatDateTime(tok.last_used_at)}` : t("set.never_used")} `,
      el("button", { type: "button", class: "small ghost", onclick: () => revokeToken(tok.id) }, t("set.revoke")))));
  } catch (error) {
    $("tokens").replaceChildren(el("li", { class: "muted" }, error.message));
  }
}

async function revokeToken(id) {
  await api(`/api/v1/tokens/${id}`, { method: "DELETE" });
  loadTokens();
}

// --- integration webhooks (configured in the file; their failures sent again here) ----

async function loadWebhooks() {
  const webhooks = await api("/api/v1/integrations/webhooks");
  $("webhooks").replaceChildren(...(webhooks.length ? webhooks.map((w) => el("li", { "data-webhook": w.name },
    el("strong", {}, w.name), ` ${w.url} · ${w.events.join(", ")}${w.signed ? ` · ${t("set.webhooks_signed")}` : ""} · `,
    el("span", { class: "muted" }, t("set.webhooks_counts").replace("{pending}", w.deliveries.pending)
      .replace("{delivered}", w.deliveries.delivered).replace("{failed}", w.deliveries.failed)), " ",
    el("button", { type: "button", class: "small", onclick: () => ping(w.name) }, t("set.ping"))))
    : [el("li", { class: "muted" }, t("set.webhooks_none"))]));
  const failed = webhooks.length ? await api("/api/v1/integrations/deliveries?state=failed&limit=20") : [];
  $("webhook-failures").replaceChildren(...(failed.length ? failed.map((d) => el("li", { "data-delivery": d.id },
    el("strong", {}, `${d.webhook} · ${d.event}`), ` #${d.id} · ${formatDateTime(d.created_at)} · `,
    el("span", { class: "form-error" }, d.last_error || ""), " ",
    el("button", { type: "button", class: "small", onclick: () => retryDelivery(d.id) }, t("set.retry"))))
    : [el("li", { class: "muted" }, t("set.webhooks_no_failures"))]));
}

async function ping(name) {
  await api(`/api/v1/integrations/webhooks/${encodeURIComponent(name)}/ping`, { method: "POST" });
  await loadWebhooks();
}

async function retryDelivery(id) {
  await api(`/api/v1/integrations/deliveries/${id}/retry`, { method: "POST" });
  await loadWebhooks();
}

// --- wiring -------------------------------------------------------------------------

function onSubmit(form, send) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await send();
      saved(form);
    } catch (error) {
      showErrors(form, error);
    }
  });
}

onSubmit($("hours-form"), async () => {
  fillHours(await api("/api/v1/settings/business-hours", { method: "PUT", body: readHours() }));
  await loadStatus();
});
onSubmit($("away-form"), async () => {
  const rules = await api("/api/v1/settings/away-messages", { method: "PUT", body: [...$("away-rules").children].map(readRule) });
  $("away-rules").replaceChildren(...rules.map(ruleCard));
});
onSubmit($("sla-form"), async () => {
  const policies = await api("/api/v1/settings/sla", { method: "PUT", body: [...$("sla-policies").children].map(readPolicy) });
  $("sla-policies").replaceChildren(...policies.map(policyCard));
});
onSubmit($("rules-form"), async () => {
  const rules = await api("/api/v1/settings/triage-rules", { method: "PUT", body: [...$("triage-rules").children].map(readTriage) });
  $("triage-rules").replaceChildren(...rules.map(triageCard));
});
onSubmit($("assignment-form"), async () => {
  fillAssignment(await api("/api/v1/settings/assignment", { method: "PUT", body: readAssignment() }));
});
onSubmit($("users-form"), async () => {
  const fields = $("users-form").elements;
  const body = { name: fields.namedItem("name").value.trim(), password: fields.namedItem("password").value, role: fields.namedItem("role").value };
  await api("/api/v1/users", { method: "POST", body });
  fields.namedItem("name").value = "";
  fields.namedItem("password").value = "";
  await Promise.all([loadUsers(), loadTeams()]); // a new user to tick in the teams
});
onSubmit($("teams-form"), async () => {
  const name = $("teams-form").elements.namedItem("name");
  await api(`/api/v1/teams/${encodeURIComponent(name.value.trim())}`, { method: "PUT", body: { members: [] } });
  name.value = "";
  await loadTeams();
});
onSubmit($("tokens-form"), async () => {
  const label = $("tokens-form").elements.namedItem("label");
  const created = await api("/api/v1/tokens", { method: "POST", body: { label: label.value.trim() } });
  label.value = "";
  $("new-token").hidden = false;
  $("new-token").replaceChildren(t("set.token_once"), " ", el("code", {}, created.token));
  await loadTokens();
});

for (const button of document.querySelectorAll("[data-add-period]")) {
  const day = button.dataset.addPeriod;
  button.addEventListener("click", () => document.querySelector(`[data-periods="${day}"]`).append(periodRow(day)));
}
for (const button of document.querySelectorAll("[data-add-interval]")) {
  const kind = button.dataset.addInterval;
  button.addEventListener("click", () => {
    const row = intervalRow(kind);
    document.querySelector(`[data-intervals="${kind}"]`).append(row);
    row.querySelector("input").focus();
  });
}
$("away-add").addEventListener("click", () => {
  const container = $("away-rules");
  container.append(ruleCard({ channels: [...CHANNELS], when: "closed", cooldown: "12h", quiet_after_agent: "10m", max_age: "1h", public: false, text: {} }, container.children.length));
});
$("sla-add").addEventListener("click", () => {
  const container = $("sla-policies");
  container.append(policyCard({ name: "", channels: [], priorities: [], teams: [], first_response: "1h", resolution: null, warn_before: "15m", business_time: false }, container.children.length));
});

$("rule-try-channel").replaceChildren(...CHANNELS.map((c) => el("option", { value: c }, channelLabel(c))));
$("rule-try").addEventListener("click", () => tryTriage());
$("rule-try-text").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault(); // tries the message, never submits the rules
  tryTriage();
});
$("rules-add").addEventListener("click", () => {
  const container = $("triage-rules");
  const card = triageCard({ name: "", channels: [], keywords: [], languages: [], sentiment: null, add_tags: [], priority: null, assign: null, team: null, answer: {}, stop: false }, container.children.length);
  container.append(card);
  card.querySelector('[data-name="name"]').focus();
});

Promise.allSettled([loadStatus(), loadHours(), loadAway(), loadSla(), loadTriage(), loadAssignment(), loadUsers(), loadTeams(), loadTokens(), loadWebhooks()]).then(() => {
  document.body.dataset.loaded = "true";
});
setInterval(loadStatus, 60_000);
