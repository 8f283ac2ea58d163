// Teams (GET /api/v1/teams): the list filtered by a team (mine first), and the team a
// conversation is given to. Both controls stay hidden while there are no teams.
import { $, api, boot, el, t } from "./inbox-core.js";

/** Fill the filter and the conversation's team picker; ``give(team)`` on a pick (null: none). */
export async function initTeams(give) {
  const teams = await api("/api/v1/teams");
  const filter = $("filter-team");
  const mine = teams.filter((team) => team.members.includes(boot.user));
  const others = teams.filter((team) => !team.members.includes(boot.user));
  filter.replaceChildren(el("option", { value: "" }, t("filter.any")),
    ...[...mine, ...others].map((team) => el("option", { value: team.name },
      mine.includes(team) ? `${team.name} ★` : team.name)));
  filter.closest("label").hidden = teams.length === 0;
  const picker = $("conv-team");
  picker.replaceChildren(el("option", { value: "" }, t("team.none")),
    ...teams.map((team) => el("option", { value: team.name }, team.name)));
  picker.hidden = teams.length === 0;
  picker.addEventListener("change", () => give(picker.value || null));
}

/** Show the conversation's team in the picker. */
export function showTeam(conversation) {
  const picker = $("conv-team");
  if (conversation.team && !picker.querySelector(`option[value="${CSS.escape(conversation.team)}"]`)) {
    picker.append(el("option", { value: conversation.team }, conversation.team));
  }
  picker.value = conversation.team || "";
}
