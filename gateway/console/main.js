// Routing between the console's pages, signing in and out.

import {ApiError, loadFeatures, onExpired, project, resumeSession, session, signIn, signOut}
  from "./api.js";
import {h, show} from "./dom.js";
import {renderConnector, renderCreate} from "./connector.js";
import {renderConnectors} from "./connectors.js";
import {renderDevices} from "./devices.js";
import {renderEvents} from "./events.js";
import {renderProjects} from "./projects.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signInError = document.getElementById("sign-in-error");
let stopView = () => {};

const PAGES = [
  [/^#\/projects\/([^/]+)\/dataconnectors\/new$/, renderCreate],
  [/^#\/projects\/([^/]+)\/dataconnectors\/([^/]+)$/, renderConnector],
  [/^#\/projects\/([^/]+)\/devices$/, renderDevices],
  [/^#\/projects\/([^/]+)\/events$/, renderEvents],
  [/^#\/projects\/([^/]+)$/, renderConnectors],
];

function banner(message) {
  const element = document.getElementById("banner");
  element.textContent = message;
  element.hidden = !message;
}

function showNav(projectId) {
  nav.hidden = !projectId;
  if (!projectId) return;
  const here = location.hash;
  const link = (href, text) => h("a", {href, "aria-current": here === href ? "page" : null}, text);
  const found = project(projectId);
  show(nav,
    link("#/", "Projects"),
    link(`#/projects/${projectId}`, "Connectors"),
    link(`#/projects/${projectId}/devices`, "Devices"),
    link(`#/projects/${projectId}/events`, "Live events"),
    found ? h("span", {class: "role"}, found.displayName, " · ", found.role.split(".").pop()) : null);
}

// A new page: its title names it, and reading starts at its top.
function announce() {
  const heading = view.querySelector("h1");
  document.title = `${heading ? heading.textContent : "Console"} — data connector gateway`;
  if (document.activeElement === document.body || !view.contains(document.activeElement)) {
    view.focus({preventScroll: true});
  }
}

async function route() {
  stopView();
  stopView = () => {};
  banner("");
  const hash = location.hash || "#/";
  for (const [pattern, render] of PAGES) {
    const match = hash.match(pattern);
    if (match) {
      const [projectId, ...rest] = match.slice(1).map(decodeURIComponent);
      showNav(projectId);
      stopView = (await render(view, projectId, ...rest)) || (() => {});
      announce();
      return;
    }
  }
  showNav(null);
  await renderProjects(view);
  announce();
}

// While the sign-in form is up, the page behind it keeps what was typed but takes no input.
function coverPage(covered) {
  signInSection.hidden = !covered;
  for (const element of [view, nav, document.querySelector(".top")]) element.inert = covered;
}

function signedIn() {
  coverPage(false);
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = `Key ${session.keyId}`;
}

function askToSignIn(reason) {
  document.getElementById("sign-in-why").textContent = reason;
  signInError.hidden = true;
  coverPage(true);
  document.getElementById("key-id").focus();
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const keyId = signInForm.keyId.value.trim();
  const secret = signInForm.secret.value;
  const before = session.keyId;
  try {
    await signIn(keyId, secret);
  } catch (error) {
    signInError.textContent = error.message;
    signInError.hidden = false;
    return;
  }
  signInForm.secret.value = "";
  signedIn();
  await loadFeatures();
  if (before && before === session.keyId) {
    // The page behind the form was kept, with whatever was typed into it.
    banner("Signed in again. Repeat the last action if it did not go through.");
  } else {
    await route();
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) {
      banner(`Signing out failed: ${error.message}`);
      return;
    }
  }
  stopView();
  stopView = () => {};
  view.replaceChildren();
  nav.hidden = true;
  document.getElementById("who").hidden = true;
  askToSignIn("Signed out. Sign in with a service account's key id and secret.");
});

onExpired(() => {
  if (signInSection.hidden) askToSignIn("Your session has ended: sign in again to continue.");
});

window.addEventListener("hashchange", route);

async function start() {
  try {
    await resumeSession();
  } catch {
    askToSignIn("Use a service account's key id and secret.");
    return;
  }
  signedIn();
  await loadFeatures();
  await route();
}

start();
