// The connector form, shared by the create page and a connector's page. The server validates;
// its message is shown beside the field it names, or above the form.

import {enumeration} from "./api.js";
import {field, fieldError, h, show} from "./dom.js";

const MASK = "********";

// Which field an API message is about: messages start with the field's path.
const FIELD_OF_MESSAGE = [
  [/^displayName/, "displayName"],
  [/^httpConfig\.url/, "url"],
  [/^httpConfig\.headers/, "headers"],
  [/^httpConfig\.signatureSecret/, "secret"],
  [/^(unknown event types|events)/, "events"],
  [/^labels/, "labels"],
];

function headerRow(name, value, editable) {
  const nameInput = h("input", {class: "header-name", value: name, disabled: !editable,
    "aria-label": "Header name", spellcheck: "false"});
  const valueInput = h("input", {class: "header-value", value, disabled: !editable,
    "aria-label": "Header value", spellcheck: "false"});
  const rowElement = h("div", {class: "header-row"}, nameInput, valueInput);
  if (editable) {
    rowElement.append(h("button", {type: "button", class: "small",
      onclick: () => rowElement.remove(), "aria-label": "Remove this header"}, "Remove"));
  }
  return rowElement;
}

function eventChoices(selected, editable) {
  const types = enumeration("DataConnector", "events");
  return types.map((type) => h("label", {class: "check"},
    h("input", {type: "checkbox", name: "events", value: type, checked: selected.includes(type),
      disabled: !editable}), type));
}

/** A connector form; `connector` is the current resource (or null to create one). */
export function connectorForm({connector, editable, submitLabel, onSubmit}) {
  const current = connector || {displayName: "", events: [], labels: [],
    httpConfig: {url: "", signatureSecret: "", headers: {}}};
  const http = current.httpConfig;
  const controls = {
    displayName: h("input", {name: "displayName", value: current.displayName, disabled: !editable}),
    url: h("input", {name: "url", type: "url", value: http.url, disabled: !editable,
      placeholder: "https://example.com/hook", spellcheck: "false"}),
    labels: h("input", {name: "labels", value: current.labels.join(", "), disabled: !editable,
      spellcheck: "false"}),
    secret: h("input", {name: "signatureSecret", type: "password", value: http.signatureSecret,
      disabled: !editable, autocomplete: "off", spellcheck: "false"}),
    events: h("fieldset", {class: "events", id: `events-${Math.random().toString(36).slice(2)}`},
      h("legend", null, "Event types (none ticked = every type)"),
      eventChoices(current.events, editable)),
    headers: h("div", {class: "headers", id: `headers-${Math.random().toString(36).slice(2)}`},
      Object.entries(http.headers).map(([name, value]) => headerRow(name, value, editable))),
  };
  const reveal = h("button", {type: "button", class: "small", "aria-pressed": "false",
    disabled: !editable || http.signatureSecret === MASK,
    onclick: () => {
      const hidden = controls.secret.type === "password";
      controls.secret.type = hidden ? "text" : "password";
      reveal.setAttribute("aria-pressed", String(hidden));
      reveal.textContent = hidden ? "Hide" : "Reveal";
    }}, "Reveal");
  const topError = h("p", {class: "error", role: "alert", hidden: true});
  const submit = h("button", {type: "submit", class: "primary", disabled: !editable}, submitLabel);
  const eventsError = h("p", {class: "field-error", id: `${controls.events.id}-error`,
    role: "alert", hidden: true});
  const headersError = h("p", {class: "field-error", id: `${controls.headers.id}-error`,
    role: "alert", hidden: true});
  const form = h("form", {class: "connector-form", novalidate: true},
    topError,
    field("Display name", controls.displayName),
    field("Endpoint URL", controls.url, "Where each event is POSTed."),
    controls.events, eventsError,
    field("Label keys", controls.labels, "Device labels copied into each push, comma-separated."),
    h("fieldset", {class: "headers-box"}, h("legend", null, "Custom headers"), controls.headers,
      editable ? h("button", {type: "button", class: "small", onclick: () =>
        controls.headers.append(headerRow("", "", true))}, "Add header") : null,
      headersError),
    h("div", {class: "secret-row"}, field("Signature secret", controls.secret,
      "Signs each push (X-Dt-Signature); empty = unsigned."), reveal),
    h("div", {class: "actions"}, submit));

  function values() {
    const headers = {};
    for (const rowElement of controls.headers.querySelectorAll(".header-row")) {
      const name = rowElement.querySelector(".header-name").value.trim();
      if (name) headers[name] = rowElement.querySelector(".header-value").value;
    }
    const httpConfig = {url: controls.url.value.trim(), headers};
    if (controls.secret.value !== http.signatureSecret || !connector) {
      httpConfig.signatureSecret = controls.secret.value;
    }
    return {
      displayName: controls.displayName.value,
      events: [...form.querySelectorAll("input[name=events]:checked")].map((box) => box.value),
      labels: controls.labels.value.split(",").map((key) => key.trim()).filter(Boolean),
      httpConfig,
    };
  }

  function showError(message) {
    for (const control of Object.values(controls)) fieldError(control, "");
    topError.hidden = true;
    if (!message) return;
    const found = FIELD_OF_MESSAGE.find(([pattern]) => pattern.test(message));
    if (found) {
      fieldError(controls[found[1]], message);
      controls[found[1]].focus?.();
    } else {
      show(topError, message);
      topError.hidden = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      showError("");
      await onSubmit(values());
    } catch (error) {
      showError(error.message);
    } finally {
      submit.disabled = !editable;
    }
  });
  return {element: form, showError};
}
