// A project's connectors at a glance: status, failures, the last 3 hours' pushes.

import {api, canEdit} from "./api.js";
import {activityChart} from "./chart.js";
import {ago, badge, h, lastPart, show, when} from "./dom.js";
import {destination} from "./form.js";

const REFRESH_MS = 10000;

/** The status badge of a connector: its status, and "failing since …" when it is probing. */
export function statusBadge(connector, stats) {
  if (connector.status === "ACTIVE" && stats && stats.failingSince) {
    return h("span", {class: "badge badge-failing"}, "ACTIVE · failing since ",
      h("time", {datetime: stats.failingSince, title: when(stats.failingSince)},
        ago(stats.failingSince)));
  }
  return badge(connector.status);
}

/** The p99 latency, or "—" when nothing was pushed (0 would read as instant). */
export function p99(stats) {
  return stats.successCount + stats.errorCount ? stats.latency99p : "—";
}

function row(projectId, connector, stats, window) {
  const id = lastPart(connector.name);
  const empty = {successCount: 0, errorCount: 0, latency99p: "0s", minutes: []};
  const found = stats || empty;
  return h("tr", {"data-connector": id},
    h("td", null, h("a", {href: `#/projects/${projectId}/dataconnectors/${id}`},
      connector.displayName || id), h("div", {class: "muted small"}, destination(connector),
        connector.type && connector.type !== "HTTP_PUSH" ? ` · ${connector.type}` : "")),
    h("td", null, statusBadge(connector, stats)),
    h("td", {class: "number", "data-label": "Successes"}, String(found.successCount)),
    h("td", {class: "number", "data-label": "Errors"}, String(found.errorCount)),
    h("td", {class: "number", "data-label": "p99"}, p99(found)),
    h("td", null, activityChart(found, window.startTime, window.endTime)));
}

async function load(projectId) {
  const [list, stats] = await Promise.all([
    api("GET", `/v2/projects/${projectId}/dataconnectors?pageSize=100`),
    api("GET", `/v2/projects/${projectId}/dataconnectors:stats`),
  ]);
  const byName = new Map(stats.dataConnectors.map((entry) => [entry.name, entry]));
  return {connectors: list.dataConnectors, more: Boolean(list.nextPageToken), byName, stats};
}

export async function renderConnectors(view, projectId) {
  const table = h("div", {class: "table-wrap"});
  const status = h("p", {class: "muted small", role: "status"});
  show(view,
    h("div", {class: "heading"}, h("h1", null, "Data connectors"),
      canEdit(projectId)
        ? h("a", {class: "button primary", href: `#/projects/${projectId}/dataconnectors/new`},
          "Create connector")
        : null),
    h("p", {class: "muted"}, "Successes, errors and p99 latency over the last 3 hours; "
      + "the chart shows successes (green, from the bottom) and errors (red, above) per minute."),
    table, status);

  async function refresh() {
    let found;
    try {
      found = await load(projectId);
    } catch (error) {
      status.textContent = `Could not load the connectors: ${error.message}`;
      return;
    }
    const rows = found.connectors.map(
      (connector) => row(projectId, connector, found.byName.get(connector.name), found.stats));
    show(table, rows.length
      ? h("table", {class: "list connectors"},
        h("caption", {class: "visually-hidden"}, "Data connectors of this project"),
        h("thead", null, h("tr", null, ["Connector", "Status", "Successes", "Errors", "p99",
          "Per minute (3 h)"].map((text) => h("th", {scope: "col"}, text)))),
        h("tbody", null, rows))
      : h("p", null, "No data connectors yet."));
    status.textContent = `${found.more ? "First 100 connectors shown. " : ""}`
      + `Updated ${new Date().toLocaleTimeString()}; refreshes every 10 s.`;
  }

  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
