// A project's devices: type, labels, latest events; labels edited in place.

import {api, canEdit} from "./api.js";
import {h, lastPart, show, when} from "./dom.js";

function summary(type, data) {
  if (!data || typeof data !== "object") return type;
  const value = data.value ?? data.ppm ?? data.pascal ?? data.state ?? data.total
    ?? data.percentage ?? data.relativeHumidity ?? data.connection ?? data.signalStrength;
  return value === undefined ? type : `${type}: ${value}`;
}

function latest(reported) {
  const entries = Object.entries(reported || {});
  if (!entries.length) return h("span", {class: "muted"}, "none yet");
  return h("ul", {class: "plain"}, entries.map(([type, data]) => h("li", null, summary(type, data),
    data && data.updateTime ? h("span", {class: "muted small"}, ` · ${when(data.updateTime)}`) : "")));
}

function labelRow(key, value) {
  const rowElement = h("div", {class: "header-row"},
    h("input", {class: "label-key", value: key, "aria-label": "Label key", spellcheck: "false"}),
    h("input", {class: "label-value", value, "aria-label": "Label value", spellcheck: "false"}));
  rowElement.append(h("button", {type: "button", class: "small", "aria-label": "Remove this label",
    onclick: () => rowElement.remove()}, "Remove"));
  return rowElement;
}

function labelEditor(device, projectId, done) {
  const rows = h("div", null, Object.entries(device.labels).map(([k, v]) => labelRow(k, v)));
  const error = h("p", {class: "error", role: "alert", hidden: true});
  const form = h("form", {class: "label-editor", novalidate: true,
    "aria-label": `Labels of ${lastPart(device.name)}`}, rows,
  h("div", {class: "actions"},
    h("button", {type: "button", class: "small", onclick: () => rows.append(labelRow("", ""))},
      "Add label"),
    h("button", {type: "submit", class: "primary small"}, "Save labels"),
    h("button", {type: "button", class: "small", onclick: () => done(false)}, "Cancel")),
  error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const addLabels = {};
    for (const rowElement of rows.querySelectorAll(".header-row")) {
      const key = rowElement.querySelector(".label-key").value.trim();
      if (key) addLabels[key] = rowElement.querySelector(".label-value").value;
    }
    const removeLabels = Object.keys(device.labels).filter((key) => !(key in addLabels));
    try {
      await api("POST", `/v2/projects/${projectId}/devices:batchUpdate`,
        {devices: [device.name], addLabels, removeLabels});
      done(true);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  });
  return form;
}

export async function renderDevices(view, projectId) {
  const body = h("tbody");
  const note = h("p", {class: "muted small", role: "status"});
  const editable = canEdit(projectId);
  let editing = null;

  async function refresh() {
    let answer;
    try {
      answer = await api("GET", `/v2/projects/${projectId}/devices?pageSize=100`);
    } catch (error) {
      note.textContent = `Could not load the devices: ${error.message}`;
      return;
    }
    show(body, answer.devices.map((device) => {
      const labels = h("td", null, Object.entries(device.labels).length
        ? h("ul", {class: "chips"}, Object.entries(device.labels).map(([k, v]) =>
          h("li", null, v ? `${k}=${v}` : k)))
        : h("span", {class: "muted"}, "no labels"));
      if (editing === device.name) {
        show(labels, labelEditor(device, projectId, async () => {
          editing = null;
          await refresh();
        }));
      } else if (editable) {
        labels.append(h("button", {type: "button", class: "small",
          "aria-label": `Edit labels of ${lastPart(device.name)}`,
          onclick: async () => {
            editing = device.name;
            await refresh();
          }}, "Edit labels"));
      }
      return h("tr", {"data-device": lastPart(device.name)},
        h("td", null, h("code", null, lastPart(device.name))),
        h("td", null, device.type), labels, h("td", null, latest(device.reported)));
    }));
    note.textContent = answer.nextPageToken ? "The first 100 devices are shown." : "";
  }

  show(view, h("h1", null, "Devices"),
    h("div", {class: "table-wrap"}, h("table", {class: "list devices"},
      h("caption", {class: "visually-hidden"}, "Devices of this project"),
      h("thead", null, h("tr", null, ["Device", "Type", "Labels", "Latest events"]
        .map((text) => h("th", {scope: "col"}, text)))), body)), note);
  await refresh();
}
