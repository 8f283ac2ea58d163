// A conversation's history among its messages: who took it, handed it over, resolved it,
// raised it, tagged it, which triage rules applied, when an SLA target neared or was
// missed. One small line each, by time.
import { el, formatTime, t } from "./inbox-core.js";

const fill = (key, values) => Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), t(key));

function assigned(e) {
  const assignee = e.data.assignee;
  if (e.actor === "assignment") return fill("act.assigned_auto", { assignee });
  if (e.actor?.startsWith("rule:")) return fill("act.rule_gave", { rule: e.actor.slice(5), assignee });
  if (assignee === null || assignee === undefined) return fill("act.let_go", { actor: e.actor });
  if (assignee === e.actor) return fill("act.took", { actor: e.actor });
  return fill("act.gave", { actor: e.actor, assignee });
}

function status(e) {
  if (e.kind === "resolved") return e.actor === "auto-resolve" ? t("act.resolved_auto") : fill("act.resolved", { actor: e.actor });
  if (e.kind === "reopened") return e.actor ? fill("act.reopened_by", { actor: e.actor }) : t("act.reopened");
  if (e.kind === "open") {
    if (!e.actor) return t("act.open_customer");
    return e.actor === "scheduler" ? t("act.open_snooze") : fill("act.open_by", { actor: e.actor });
  }
  if (e.kind === "pending") return fill("act.pending", { actor: e.actor });
  return fill("act.snoozed", { actor: e.actor, until: e.data.until ? formatTime(e.data.until) : "…" });
}

function tagChanges(added = [], removed = []) {
  return [...added.map((tag) => `+${tag}`), ...removed.map((tag) => `−${tag}`)].join(" ");
}

function rule(e) {
  const changes = [tagChanges(e.data.tags),
    e.data.priority !== undefined ? t(`priority.${e.data.priority}`) : "",
    e.data.assignee ? `→ ${e.data.assignee}` : "", e.data.team ? `→ ${e.data.team}` : "",
    e.data.answered ? t("act.rule_answered") : ""].filter(Boolean).join(" · ");
  return fill("act.rule", { rules: (e.data.rules || []).join(", "), changes });
}

function team(e) {
  if (e.actor?.startsWith("rule:")) return fill("act.rule_team", { rule: e.actor.slice(5), team: e.data.team });
  if (e.data.team === null) return fill("act.team_none", { actor: e.actor, previous: e.data.previous });
  return fill("act.team", { actor: e.actor, team: e.data.team });
}

const TEXTS = {
  assigned,
  team,
  resolved: status,
  reopened: status,
  open: status,
  pending: status,
  snoozed: status,
  priority: (e) => fill("act.priority", { actor: e.actor, priority: t(`priority.${e.data.priority}`) }),
  tagged: (e) => fill("act.tagged", { actor: e.actor, changes: tagChanges(e.data.added, e.data.removed) }),
  rule,
};

/** The line of one event, or null for one the thread needs not show (the opening). */
export function activityItem(e) {
  const text = TEXTS[e.kind];
  if (!text) return null;
  return el("li", { class: "activity", "data-event": e.kind },
    el("span", {}, text(e)), " · ", el("time", { datetime: e.at }, formatTime(e.at)));
}

/** The line of an SLA warning or breach (``GET /api/v1/sla/breaches``), or of a 24-hour
 * window about to close. */
export function slaItem(b) {
  const text = fill(`act.sla_${b.kind}_${b.level}`, { due: formatTime(b.due_at), policy: b.policy || "" });
  return el("li", { class: `activity activity-sla activity-sla-${b.level}`, "data-event": `sla-${b.level}` },
    el("span", {}, text), " · ", el("time", { datetime: b.fired_at }, formatTime(b.fired_at)));
}
