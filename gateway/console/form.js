// The connector form, shared by the create page and a connector's page. The server validates;
// its message is shown beside the field it names, or above the form.

import {enumeration} from "./api.js";
import {field, fieldError, h, show} from "./dom.js";

const MASK = "********";
const HTTP_PUSH = "HTTP_PUSH";

// Which field an API message is about: messages start with the field's path.
const FIELD_OF_MESSAGE = [
  [/^displayName/, "displayName"],
  [/^httpConfig\.url/, "url"],
  [/^httpConfig\.headers/, "headers"],
  [/^(httpConfig|\w+Config)\.signatureSecret/, "secret"],
  [/^httpConfig\.standardWebhooks/, "standardWebhooks"],
  [/^(unknown event types|events)/, "events"],
  [/^labels/, "labels"],
  [/^type\b/, "type"],
];

function uniqueId(prefix) {
  return `${prefix}-${Math.random().toString(36).slice(2, 9)}`;
}

/** A connector's destination, whatever its type: its config's URL. */
export function destination(connector) {
  const key = Object.keys(connector).find((name) => name.endsWith("Config"));
  return key ? connector[key].url || "" : "";
}

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

function secretField(value, editable, hint) {
  const input = h("input", {name: "signatureSecret", type: "password", value,
    disabled: !editable, autocomplete: "off", spellcheck: "false"});
  const reveal = h("button", {type: "button", class: "small", "aria-pressed": "false",
    disabled: !editable || value === MASK,
    onclick: () => {
      const hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      reveal.setAttribute("aria-pressed", String(hidden));
      reveal.textContent = hidden ? "Hide" : "Reveal";
    }}, "Reveal");
  return {input, element: h("div", {class: "secret-row"},
    field("Signature secret", input, hint), reveal)};
}

/** Standard Webhooks signing, on or off; a secret the server generates is shown once. */
function webhooksField(http, editable) {
  const current = http.standardWebhooks || null;
  const box = h("input", {type: "checkbox", checked: Boolean(current), disabled: !editable});
  const until = current && current.previousSecretExpireTime;
  const element = h("fieldset", {class: "webhooks"}, h("legend", null, "Standard Webhooks"),
    h("label", {class: "check"}, box,
      "Also sign with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"),
    h("p", {class: "hint"}, current
      ? "A secret is set; it was shown once, when it was made. Rotate it under Actions."
      : "The gateway makes the secret and shows it once, after saving."),
    until ? h("p", {class: "hint"}, `The previous secret also signs until ${until}.`) : null);
  function value() {
    if (box.checked === Boolean(current)) return undefined;
    return box.checked ? {secret: "generate"} : null;
  }
  return {element, value, control: box};
}

/** The HTTP push part: URL, headers as rows, the signature secret. */
function httpSection(http, editable, creating, webhooks) {
  const url = h("input", {name: "url", type: "url", value: http.url, disabled: !editable,
    placeholder: "https://example.com/hook", spellcheck: "false"});
  const headers = h("div", {class: "headers", id: uniqueId("headers")},
    Object.entries(http.headers || {}).map(([name, value]) => headerRow(name, value, editable)));
  const secret = secretField(http.signatureSecret, editable,
    "Signs each push (X-Dt-Signature); empty = unsigned.");
  const standard = webhooks ? webhooksField(http, editable) : null;
  const element = h("div", null,
    field("Endpoint URL", url, "Where each event is POSTed."),
    h("fieldset", {class: "headers-box"}, h("legend", null, "Custom headers"), headers,
      editable ? h("button", {type: "button", class: "small", onclick: () =>
        headers.append(headerRow("", "", true))}, "Add header") : null,
      h("p", {class: "field-error", id: `${headers.id}-error`, role: "alert", hidden: true})),
    secret.element, standard ? standard.element : null);
  function value() {
    const found = {};
    for (const rowElement of headers.querySelectorAll(".header-row")) {
      const name = rowElement.querySelector(".header-name").value.trim();
      if (name) found[name] = rowElement.querySelector(".header-value").value;
    }
    const config = {url: url.value.trim(), headers: found};
    if (creating || secret.input.value !== http.signatureSecret) {
      config.signatureSecret = secret.input.value;
    }
    const standardValue = standard ? standard.value() : undefined;
    if (standardValue !== undefined) config.standardWebhooks = standardValue;
    return config;
  }
  const controls = {url, headers, secret: secret.input};
  if (standard) controls.standardWebhooks = standard.control;
  return {element, value, controls};
}

/** A broker type's part, built from its JSON Schema in the server's catalog of types. */
function schemaSection(entry, config, editable, creating) {
  const controls = {};
  const fields = [];
  const properties = entry.configSchema.properties || {};
  const required = new Set(entry.configSchema.required || []);
  for (const [name, schema] of Object.entries(properties)) {
    const current = config[name] ?? "";
    if (name === "signatureSecret") {
      const secret = secretField(current, editable, schema.description);
      controls.secret = controls[name] = secret.input;
      fields.push(secret.element);
      continue;
    }
    const input = h("input", {name, value: String(current), disabled: !editable,
      type: schema.type === "integer" ? "number" : "text", spellcheck: "false",
      placeholder: String(entry.sampleConfig[name] ?? "")});
    controls[name] = input;
    fields.push(field(`${name}${required.has(name) ? "" : " (optional)"}`, input,
      schema.description));
  }
  function value() {
    const found = {};
    for (const [name, input] of Object.entries(controls)) {
      if (name === "secret") continue;
      const schema = properties[name];
      if (name === "signatureSecret" && !creating && input.value === config[name]) continue;
      if (input.value === "" && !required.has(name) && schema.type === "integer") continue;
      found[name] = schema.type === "integer" && input.value !== ""
        ? Number(input.value) : input.value;
    }
    return found;
  }
  return {element: h("div", null, fields), value, controls};
}

function eventChoices(selected, editable) {
  const types = enumeration("DataConnector", "events");
  return types.map((type) => h("label", {class: "check"},
    h("input", {type: "checkbox", name: "events", value: type, checked: selected.includes(type),
      disabled: !editable}), type));
}

function emptyConnector(type, types) {
  const entry = (types || []).find((candidate) => candidate.type === type);
  const configKey = entry ? entry.configKey : "httpConfig";
  const config = type === HTTP_PUSH ? {url: "", signatureSecret: "", headers: {}} : {};
  return {displayName: "", type, events: [], labels: [], [configKey]: config};
}

/**
 * A connector form; `connector` is the current resource (or null to create one), `types` the
 * server's catalog of connector types (or null when it has none: HTTP push only), `webhooks`
 * whether the server signs with Standard Webhooks.
 */
export function connectorForm({connector, editable, submitLabel, onSubmit, types, webhooks}) {
  const creating = !connector;
  let current = connector || emptyConnector(HTTP_PUSH, types);
  const common = {
    displayName: h("input", {name: "displayName", value: current.displayName,
      disabled: !editable}),
    labels: h("input", {name: "labels", value: current.labels.join(", "), disabled: !editable,
      spellcheck: "false"}),
    events: h("fieldset", {class: "event-types", id: uniqueId("events")},
      h("legend", null, "Event types (none ticked = every type)"),
      eventChoices(current.events, editable)),
  };
  const typeSelect = creating && types ? h("select", {name: "type", disabled: !editable},
    types.map((entry) => h("option", {value: entry.type, selected: entry.type === HTTP_PUSH},
      entry.displayName))) : null;
  const configBox = h("div", {class: "config"});
  let config;

  function typeEntry() {
    return (types || []).find((entry) => entry.type === (current.type || HTTP_PUSH));
  }
  function drawConfig() {
    const type = current.type || HTTP_PUSH;
    const entry = typeEntry();
    const configKey = entry ? entry.configKey : "httpConfig";
    config = type === HTTP_PUSH
      ? httpSection(current.httpConfig, editable, creating, webhooks)
      : schemaSection(entry, current[configKey] || {}, editable, creating);
    config.key = configKey;
    show(configBox, config.element);
  }
  drawConfig();
  if (typeSelect) {
    typeSelect.addEventListener("change", () => {
      current = emptyConnector(typeSelect.value, types);
      drawConfig();
    });
  }
  const topError = h("p", {class: "error", role: "alert", hidden: true});
  const submit = h("button", {type: "submit", class: "primary", disabled: !editable}, submitLabel);
  const form = h("form", {class: "connector-form", novalidate: true},
    topError,
    field("Display name", common.displayName),
    typeSelect ? field("Connector type", typeSelect) : (current.type && current.type !== HTTP_PUSH
      ? h("p", null, h("strong", null, "Type: "), current.type) : null),
    configBox,
    common.events,
    h("p", {class: "field-error", id: `${common.events.id}-error`, role: "alert", hidden: true}),
    field("Label keys", common.labels, "Device labels copied into each push, comma-separated."),
    h("div", {class: "actions"}, submit));

  function values() {
    const found = {
      displayName: common.displayName.value,
      events: [...form.querySelectorAll("input[name=events]:checked")].map((box) => box.value),
      labels: common.labels.value.split(",").map((key) => key.trim()).filter(Boolean),
      [config.key]: config.value(),
    };
    if (creating && typeSelect) found.type = typeSelect.value;
    return found;
  }

  function controlOf(message) {
    const configField = message.match(/^\w+Config\.(\w+)/);
    if (configField && config.controls[configField[1]]) return config.controls[configField[1]];
    const found = FIELD_OF_MESSAGE.find(([pattern]) => pattern.test(message));
    if (!found) return null;
    return found[1] === "type" ? typeSelect : common[found[1]] || config.controls[found[1]];
  }

  function showError(message) {
    for (const control of [...Object.values(common), ...Object.values(config.controls)]) {
      fieldError(control, "");
    }
    topError.hidden = true;
    if (!message) return;
    const control = controlOf(message);
    if (control) {
      fieldError(control, message);
      control.focus();
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
