// The project's events as they are published: from the event stream when the server offers it,
// otherwise by polling each device's event history.

import {api, offers, query, session} from "./api.js";
import {h, lastPart, show, when} from "./dom.js";

const KEEP = 200;
const POLL_MS = 3000;
const STREAM = "/v2/projects/{}/devices:stream";

function eventRow(event) {
  return h("tr", {"data-event": event.eventId},
    h("td", null, when(event.timestamp)),
    h("td", null, h("code", null, lastPart(event.targetName))),
    h("td", null, event.eventType),
    h("td", null, h("code", {class: "data"}, JSON.stringify(event.data))));
}

async function readStream(projectId, signal, add, note) {
  const response = await fetch(`/v2/projects/${projectId}/devices:stream?ping_interval=10s`,
    {credentials: "same-origin", signal, headers: {Accept: "application/json"}});
  if (!response.ok || !response.body) {
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.error || `HTTP ${response.status}`);
  }
  note.textContent = "Connected to the event stream.";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const line of lines.filter((text) => text.trim())) {
      const message = JSON.parse(line);
      if (message.error) throw new Error(message.error.message || JSON.stringify(message.error));
      const event = message.result && message.result.event;
      if (event && event.eventType !== "ping") add([event]);
    }
  }
}

function streamEvents(projectId, add, note) {
  const control = new AbortController();
  (async () => {
    while (!control.signal.aborted) {
      try {
        await readStream(projectId, control.signal, add, note);
      } catch (error) {
        if (control.signal.aborted) return;
        note.textContent = `The stream was interrupted (${error.message}); reconnecting.`;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
  return () => control.abort();
}

function pollEvents(projectId, add, note) {
  // Events since a minute before the page opened; each poll asks from the newest seen on.
  let since = new Date(Date.now() - 60000).toISOString();
  let running = true;
  async function poll() {
    const devices = await api("GET", `/v2/projects/${projectId}/devices?pageSize=100`);
    const pages = await Promise.all(devices.devices.map((device) => api("GET",
      `/v2/${device.name}/events${query({startTime: since})}`)));
    const found = pages.flatMap((page) => page.events);
    add(found);
    for (const event of found) if (event.timestamp > since) since = event.timestamp;
    note.textContent = `This server has no event stream: polling the history of `
      + `${devices.devices.length} devices every ${POLL_MS / 1000} s.`;
  }
  (async () => {
    while (running && session.csrfToken) {
      await poll().catch((error) => {
        note.textContent = `Could not read events: ${error.message}`;
      });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();
  return () => {
    running = false;
  };
}

export async function renderEvents(view, projectId) {
  const body = h("tbody");
  const note = h("p", {class: "muted small", role: "status"});
  const seen = new Map();
  function add(events) {
    for (const event of events) seen.set(event.eventId, event);
    const newest = [...seen.values()].sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1))
      .slice(0, KEEP);
    seen.clear();
    for (const event of newest) seen.set(event.eventId, event);
    show(body, newest.length ? newest.map(eventRow)
      : h("tr", null, h("td", {colspan: 4}, "Waiting for events…")));
  }
  show(view, h("h1", null, "Live events"), note,
    h("div", {class: "table-wrap"}, h("table", {class: "list events"},
      h("caption", {class: "visually-hidden"}, "Events published to this project, newest first"),
      h("thead", null, h("tr", null, ["Time", "Device", "Type", "Data"]
        .map((text) => h("th", {scope: "col"}, text)))), body)));
  add([]);
  return offers("GET", STREAM) ? streamEvents(projectId, add, note)
    : pollEvents(projectId, add, note);
}
