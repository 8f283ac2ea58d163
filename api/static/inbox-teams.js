// Teams (GET /api/v1/teams): the list filtered by a team (mine first), the team a
// conversation is given to, and the team the picked conversations are given to together.
// The controls stay hidden while there are no teams; they follow the teams an admin
// changes (the live event teams.changed).
import { $, api, boot, el, t } from "./inbox-core.js";

let teams = [];

/** Wire the team pickers: ``give(team)`` on the open conversation's pick, ``giveMany(team)``
 * on the bulk bar's (null: no team); then fill them and the filter. */
export async function initTeams({ give, giveMany }) {
  const picker = $("conv-team");
  picker.addEventListener("change", () => give(picker.value || null));
  // The bulk bar's: its first option names it, the second takes the picked out of any team.
  const bulk = $("bulk-team");
  bulk.addEventListener("change", () => {
    const chosen = bulk.selectedIndex;
    bulk.selectedIndex = 0;
    if (chosen > 0) giveMany(chosen === 1 ? null : teams[chosen - 2].name);
  });
  await reloadTeams();
}

/** Fetch the teams again and fill the filter and the pickers, keeping what each shows. */
export async function reloadTeams() {
  teams = await api("/api/v1/teams");
  const filter = $("filter-team");
  const filtered = filter.value;
  const mine = teams.filter((team) => team.members.includes(boot.user));
  const others = teams.filter((team) => !team.members.includes(boot.user));
  filter.replaceChildren(el("option", { value: "" }, t("filter.any")),
    ...[...mine, ...others].map((team) => el("option", { value: team.name },
      mine.includes(team) ? `${team.name} ★` : team.name)));
  filter.value = teams.some((team) => team.name === filtered) ? filtered : "";
  filter.closest("label").hidden = teams.length === 0;
  const picker = $("conv-team");
  const shown = picker.value;
  picker.replaceChildren(el("option", { value: "" }, t("team.none")),
    ...teams.map((team) => el("option", { value: team.name }, team.name)));
  picker.hidden = teams.length === 0;
  showTeam({ team: teams.some((team) => team.name === shown) ? shown : null }); // deleted: none
  const bulk = $("bulk-team");
  bulk.replaceChildren(el("option", { value: "" }, t("team.bulk_team")),
    el("option", { value: "" }, t("team.none")),
    ...teams.map((team) => el("option", { value: team.name }, team.name)));
  bulk.hidden = teams.length === 0;
  return filtered !== filter.value; // the list's filter changed: its team is gone
}

/** Show the conversation's team in the picker. */
export function showTeam(conversation) {
  const picker = $("conv-team");
  if (conversation.team && !picker.querySelector(`option[value="${CSS.escape(conversation.team)}"]`)) {
    picker.append(el("option", { value: conversation.team }, conversation.team));
  }
  picker.value = conversation.team || "";
}
