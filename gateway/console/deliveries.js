// A connector's delivery log: every delivery with its attempts, filtered, refreshing by itself.

import {api, enumeration, offers, query} from "./api.js";
import {badge, field, fromLocalInput, h, show, when} from "./dom.js";

const ONE = "/v2/projects/{}/dataconnectors/{}";
const REFRESH_MS = 5000;
const STATUSES = ["PENDING", "RETRYING", "DELIVERED", "DROPPED"];

function select(label, options) {
  return h("select", {"aria-label": label},
    h("option", {value: ""}, "any"), options.map((value) => h("option", {value}, value)));
}

function attemptsTable(attempts) {
  if (!attempts.length) return h("p", {class: "muted"}, "No attempt yet.");
  return h("div", {class: "table-wrap"}, h("table", {class: "list attempts"},
    h("thead", null, h("tr", null, ["Time", "Status code", "Error", "Latency", "Response"]
      .map((text) => h("th", {scope: "col"}, text)))),
    h("tbody", null, attempts.map((attempt) => h("tr", null,
      h("td", null, when(attempt.time)),
      h("td", {class: "number"}, attempt.statusCode ? String(attempt.statusCode) : "—"),
      h("td", null, attempt.error || "—"),
      h("td", {class: "number"}, attempt.latency || "—"),
      h("td", null, attempt.response ? h("pre", null, attempt.response) : "—"))))));
}

function lastOutcome(delivery) {
  const last = delivery.attempts[delivery.attempts.length - 1];
  if (!last) return "";
  return last.statusCode ? `HTTP ${last.statusCode}` : last.error;
}

function deliveryItem(delivery, open, redeliver) {
  const status = delivery.dropReason ? `${delivery.status} (${delivery.dropReason})`
    : delivery.status;
  const item = h("details", {class: "delivery", "data-name": delivery.name, open},
    h("summary", null,
      badge(delivery.status, delivery.dropReason ? ` · ${delivery.dropReason}` : ""),
      h("span", null, when(delivery.createTime)),
      h("span", null, delivery.eventType),
      h("code", null, delivery.eventId),
      h("span", null, `${delivery.attempts.length} attempt${delivery.attempts.length === 1 ? "" : "s"}`),
      h("span", {class: "muted"}, lastOutcome(delivery))),
    h("dl", {class: "pairs"},
      h("dt", null, "Status"), h("dd", null, status),
      h("dt", null, "Device"), h("dd", null, delivery.device || "—"),
      h("dt", null, "Next attempt"), h("dd", null, when(delivery.nextAttemptTime))),
    attemptsTable(delivery.attempts),
    redeliver ? h("button", {type: "button", class: "small",
      onclick: () => redeliver(delivery.eventId)}, "Deliver again") : null);
  return item;
}

/** The log of one connector; `stop()` ends its refreshing. */
export function deliveryLog(path, connector, editable) {
  if (!offers("GET", `${ONE}/deliveries`)) {
    return {element: h("p", {class: "muted"}, "The delivery log is not offered by this server."),
      stop: () => {}};
  }
  const status = select("Status", STATUSES);
  const eventType = select("Event type", connector.events.length
    ? connector.events : enumeration("DataConnector", "events"));
  const eventId = h("input", {spellcheck: "false", placeholder: "any"});
  const start = h("input", {type: "datetime-local"});
  const end = h("input", {type: "datetime-local"});
  const auto = h("input", {type: "checkbox", checked: true, id: "auto-refresh"});
  const list = h("div", {class: "deliveries", "aria-live": "polite"});
  const note = h("p", {class: "muted small", role: "status"});
  const more = h("button", {type: "button", hidden: true}, "Older deliveries");
  const filters = h("form", {class: "filters", novalidate: true},
    field("Status", status), field("Event type", eventType), field("Event id", eventId),
    field("From", start), field("To", end),
    h("label", {class: "check"}, auto, "Refresh by itself"),
    h("button", {type: "submit"}, "Apply filters"));
  let nextToken = "";
  let paged = false; // older pages loaded: refreshing would drop them
  let shown = [];
  const redeliver = editable && offers("POST", `${ONE}:redeliver`) ? async (id) => {
    try {
      const answer = await api("POST", `${path}:redeliver`, {eventIds: [id]});
      note.textContent = `${answer.queued} delivery queued again.`;
    } catch (error) {
      note.textContent = `Deliver again failed: ${error.message}`;
    }
  } : null;

  function filterQuery(token) {
    return query({status: status.value, eventId: eventId.value.trim(),
      startTime: fromLocalInput(start.value), endTime: fromLocalInput(end.value),
      pageSize: 50, pageToken: token});
  }

  function draw() {
    const open = new Set([...list.querySelectorAll("details[open]")].map((d) => d.dataset.name));
    // The API filters by status, event id and time; the event type filters what was loaded.
    const visible = shown.filter((d) => !eventType.value || d.eventType === eventType.value);
    show(list, visible.length ? visible.map((d) => deliveryItem(d, open.has(d.name), redeliver))
      : h("p", null, "No deliveries match."));
    more.hidden = !nextToken;
  }

  async function load(append) {
    try {
      const answer = await api("GET", `${path}/deliveries${filterQuery(append ? nextToken : "")}`);
      shown = append ? shown.concat(answer.deliveries) : answer.deliveries;
      paged = append;
      nextToken = answer.nextPageToken;
      note.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
      draw();
    } catch (error) {
      note.textContent = `Could not load the delivery log: ${error.message}`;
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  eventType.addEventListener("change", draw);
  more.addEventListener("click", () => load(true));
  const timer = setInterval(() => {
    if (auto.checked && !paged && document.visibilityState === "visible") load(false);
  }, REFRESH_MS);
  load(false);
  return {element: h("div", null, filters, note, list, more), stop: () => clearInterval(timer)};
}
