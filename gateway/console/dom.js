// Building the page from data without parsing HTML strings: every text goes in as a text node, so nothing
// a receiver or a label says can become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(element, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.setAttribute("class", value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("a", {href: "#/"}, "text", child, ...). */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  apply(element, props);
  append(element, children);
  return element;
}

/** An SVG element, for the charts. */
export function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

/** Replace an element's children. */
export function show(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A moment as the reader's local date and time, or "—". */
export function when(text) {
  if (!text) return "—";
  const moment = new Date(text);
  return Number.isNaN(moment.getTime()) ? text : moment.toLocaleString();
}

/** How long ago a moment was, in words ("5 min ago"). */
export function ago(text) {
  const seconds = Math.max(0, (Date.now() - new Date(text).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** A value for <input type="datetime-local"> from a Date, in local time. */
export function localInput(moment) {
  const shifted = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

/** RFC 3339 (UTC) from an <input type="datetime-local"> value, or "" when empty. */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : "";
}

/** The last part of a resource name: projects/p/dataconnectors/c -> c. */
export function lastPart(name) {
  return name.split("/").pop();
}

/** A status badge: the text always beside the colour. */
export function badge(status, extra) {
  return h("span", {class: `badge badge-${String(status).toLowerCase()}`}, status, extra || "");
}

/** A labelled field: <label> + control + a place for its error. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const error = h("p", {class: "field-error", id: `${id}-error`, role: "alert", hidden: true});
  control.setAttribute("aria-describedby", `${id}-error`);
  return h("div", {class: "field"},
    h("label", {for: id}, label), control, hint ? h("p", {class: "hint"}, hint) : null, error);
}

/** Show `message` beside a control made by field(); "" clears it. */
export function fieldError(control, message) {
  const error = document.getElementById(`${control.id}-error`);
  if (!error) return;
  error.textContent = message;
  error.hidden = !message;
  control.setAttribute("aria-invalid", message ? "true" : "false");
}
