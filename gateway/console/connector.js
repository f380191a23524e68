// A connector's page (its form, enable/disable, delete, :sync, :test, :replay, its delivery log)
// and the page that creates one.

import {api, canEdit, offers} from "./api.js";
import {activityChart} from "./chart.js";
import {p99, statusBadge} from "./connectors.js";
import {deliveryLog} from "./deliveries.js";
import {field, fromLocalInput, h, localInput, show, when} from "./dom.js";
import {connectorForm} from "./form.js";

const ONE = "/v2/projects/{}/dataconnectors/{}";
const TYPES = "/v2/dataconnectortypes";
const MASK = "********";
// A Standard Webhooks secret the server showed once, kept to show on the next page drawn.
let shownOnce = "";

function webhooksOffered() {
  return offers("POST", `${ONE}:rotateSecret`);
}

function rememberSecret(answer) {
  const secret = ((answer.httpConfig || {}).standardWebhooks || {}).secret;
  if (secret && secret !== MASK) shownOnce = secret;
}

function secretNotice() {
  if (!shownOnce) return null;
  const notice = h("div", {class: "notice", role: "status"},
    h("p", null, "The Standard Webhooks secret, shown this once: copy it to the receiver now."),
    h("code", {class: "secret"}, shownOnce));
  shownOnce = "";
  return notice;
}

/** The server's catalog of connector types, or null when it offers HTTP push only. */
async function connectorTypes() {
  if (!offers("GET", TYPES)) return null;
  return (await api("GET", TYPES)).dataConnectorTypes;
}

export async function renderCreate(view, projectId) {
  const form = connectorForm({
    connector: null, editable: canEdit(projectId), submitLabel: "Create connector",
    types: await connectorTypes().catch(() => null), webhooks: webhooksOffered(),
    onSubmit: async (values) => {
      const created = await api("POST", `/v2/projects/${projectId}/dataconnectors`, values);
      rememberSecret(created);
      location.hash = `#/projects/${projectId}/dataconnectors/${created.name.split("/").pop()}`;
    },
  });
  show(view, h("h1", null, "Create a data connector"),
    canEdit(projectId) ? null : h("p", {class: "error"}, "Your role in this project is read-only."),
    form.element);
}

function section(title, ...children) {
  return h("section", {class: "card", "aria-label": title}, h("h2", null, title), children);
}

function resultLine(target, message, isError) {
  show(target, message);
  target.className = isError ? "error" : "ok";
  target.hidden = false;
}

function testResult(answer) {
  return h("dl", {class: "pairs"},
    h("dt", null, "Status code"), h("dd", null, String(answer.statusCode || "—")),
    h("dt", null, "Latency"), h("dd", null, answer.latency || "—"),
    h("dt", null, "Error"), h("dd", null, answer.error || "—"),
    h("dt", null, "Response"), h("dd", null, h("pre", null, answer.response || "")));
}

function actions(path, connector, editable, reload) {
  const outcome = h("p", {role: "status", hidden: true});
  const run = (label, work) => h("button", {type: "button", disabled: !editable, onclick:
    async (event) => {
      event.target.disabled = true;
      try {
        await work();
      } catch (error) {
        resultLine(outcome, `${label} failed: ${error.message}`, true);
      } finally {
        event.target.disabled = !editable;
      }
    }}, label);
  const enabled = connector.status === "ACTIVE";
  const toggle = run(enabled ? "Disable" : "Enable", async () => {
    await api("PATCH", path, {status: enabled ? "USER_DISABLED" : "ACTIVE"});
    await reload(enabled ? "Disabled." : "Enabled.");
  });
  const sync = run("Sync", async () => {
    await api("POST", `${path}:sync`, {});
    resultLine(outcome, "Sync queued: each device's latest events are on their way.", false);
  });
  const testOut = h("div");
  const test = offers("POST", `${ONE}:test`) ? run("Send test event", async () => {
    const answer = await api("POST", `${path}:test`, {});
    resultLine(outcome, "The receiver answered:", Boolean(answer.error));
    show(testOut, testResult(answer));
  }) : h("span", {class: "muted small"}, "Test pushes: not offered by this server.");
  const dialog = h("dialog", {class: "confirm", "aria-labelledby": "delete-title"},
    h("h2", {id: "delete-title"}, `Delete ${connector.displayName || connector.name}?`),
    h("p", null, "Its queued deliveries are dropped. This cannot be undone."),
    h("form", {method: "dialog", class: "actions"},
      h("button", {value: "cancel", autofocus: true}, "Cancel"),
      h("button", {value: "delete", class: "danger"}, "Delete")));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", path);
      location.hash = `#/projects/${path.split("/")[3]}`;
    } catch (error) {
      resultLine(outcome, `Delete failed: ${error.message}`, true);
    }
  });
  const remove = h("button", {type: "button", class: "danger", disabled: !editable,
    onclick: () => dialog.showModal()}, "Delete…");
  return h("div", null, h("div", {class: "actions"}, toggle, sync, test, remove), outcome,
    testOut, dialog, rotateForm(path, connector, editable, reload));
}

function rotateForm(path, connector, editable, reload) {
  if (!webhooksOffered() || !(connector.httpConfig || {}).standardWebhooks) return null;
  const overlap = h("select", {disabled: !editable},
    [["0s", "none"], ["3600s", "1 hour"], ["86400s", "1 day"], ["604800s", "7 days"]]
      .map(([value, text]) => h("option", {value, selected: value === "86400s"}, text)));
  const outcome = h("p", {role: "status", hidden: true});
  const form = h("form", {class: "inline-form", novalidate: true},
    field("Old secret keeps signing for", overlap),
    h("button", {type: "submit", disabled: !editable}, "Rotate Standard Webhooks secret"),
    outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", `${path}:rotateSecret`, {overlap: overlap.value});
      shownOnce = answer.standardWebhooks.secret;
      await reload("Rotated.");
    } catch (error) {
      resultLine(outcome, error.message, true);
    }
  });
  return form;
}

function replayForm(path, editable) {
  if (!offers("POST", `${ONE}:replay`)) {
    return h("p", {class: "muted"}, "Replay: not offered by this server.");
  }
  const now = new Date();
  const start = h("input", {type: "datetime-local", value: localInput(new Date(now - 3600000))});
  const end = h("input", {type: "datetime-local", value: localInput(now)});
  const onlyDropped = h("input", {type: "checkbox", id: "only-undelivered"});
  const outcome = h("p", {role: "status", hidden: true});
  const submit = h("button", {type: "submit", disabled: !editable}, "Replay window");
  const form = h("form", {class: "inline-form", novalidate: true},
    field("From", start), field("To", end),
    h("label", {class: "check"}, onlyDropped, "Only events whose delivery was dropped"),
    submit, outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {startTime: fromLocalInput(start.value), endTime: fromLocalInput(end.value)};
    if (onlyDropped.checked) body.onlyUndelivered = true;
    try {
      const answer = await api("POST", `${path}:replay`, body);
      resultLine(outcome, `${answer.queued} events queued again.`, false);
    } catch (error) {
      resultLine(outcome, error.message, true);
    }
  });
  return form;
}

async function activity(projectId, name) {
  const stats = await api("GET", `/v2/projects/${projectId}/dataconnectors:stats`);
  const found = stats.dataConnectors.find((entry) => entry.name === name);
  return {found, stats};
}

export async function renderConnector(view, projectId, connectorId) {
  const path = `/v2/projects/${projectId}/dataconnectors/${connectorId}`;
  const editable = canEdit(projectId);
  let stopLog = () => {};
  const types = await connectorTypes().catch(() => null);

  async function draw(message) {
    stopLog();
    const connector = await api("GET", path);
    const {found, stats} = await activity(projectId, connector.name);
    const form = connectorForm({connector, editable, submitLabel: "Save changes", types,
      webhooks: webhooksOffered(),
      onSubmit: async (values) => {
        rememberSecret(await api("PATCH", path, values));
        await draw("Saved.");
      }});
    const summary = found ? h("p", {class: "summary"},
      `Last 3 hours: ${found.successCount} successes, ${found.errorCount} errors, `
      + `p99 ${p99(found)}. Last success: ${when(found.lastSuccessTime)}. `,
      activityChart(found, stats.startTime, stats.endTime)) : null;
    const log = deliveryLog(path, connector, editable);
    stopLog = log.stop;
    show(view,
      h("div", {class: "heading"}, h("h1", null, connector.displayName || connectorId),
        statusBadge(connector, found)),
      message ? h("p", {class: "ok", role: "status"}, message) : null,
      secretNotice(),
      editable ? null : h("p", {class: "notice"},
        "Read-only: your role in this project (roles/project.user) cannot change connectors."),
      summary,
      section("Actions", actions(path, connector, editable, draw)),
      section("Settings", form.element),
      section("Replay a time window", replayForm(path, editable)),
      section("Delivery log", log.element));
  }

  try {
    await draw("");
  } catch (error) {
    show(view, h("h1", null, "Data connector"), h("p", {class: "error"}, error.message));
  }
  return () => stopLog();
}
