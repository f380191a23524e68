// The console's only way to the server: the same /v2 API as every client, authenticated by the
// session cookie, with the session's CSRF token on every state-changing request.

const SAFE = new Set(["GET", "HEAD"]);

export const session = {keyId: "", csrfToken: "", expireTime: "", projects: []};
const routes = new Set();
const schemas = {};
let expiredHandler = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Called with the error when the server says the session is gone (401). */
export function onExpired(handler) {
  expiredHandler = handler;
}

/** One call to the gateway; resolves to the JSON answer, or rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = session.csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `the gateway did not answer (${error.message})`);
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const message = answer && typeof answer.error === "string"
      ? answer.error : `the gateway answered HTTP ${response.status}`;
    const error = new ApiError(response.status, message);
    if (response.status === 401) expiredHandler(error);
    throw error;
  }
  return answer;
}

function remember(answer) {
  Object.assign(session, answer);
  return answer;
}

export async function signIn(keyId, secret) {
  return remember(await api("POST", "/console/session", {keyId, secret}));
}

export async function resumeSession() {
  return remember(await api("GET", "/console/session"));
}

export async function signOut() {
  await api("DELETE", "/console/session");
  Object.assign(session, {keyId: "", csrfToken: "", expireTime: "", projects: []});
}

/** Which routes this server offers, read from its OpenAPI document (once). */
export async function loadFeatures() {
  if (routes.size) return;
  const document = await api("GET", "/v2/openapi.json");
  for (const [path, item] of Object.entries(document.paths || {})) {
    for (const method of Object.keys(item)) routes.add(`${method.toUpperCase()} ${shape(path)}`);
  }
  Object.assign(schemas, (document.components || {}).schemas || {});
}

function shape(path) {
  return path.replace(/\{[^}]*\}/g, "{}");
}

/** Whether the server offers a route, e.g. offers("POST", "/v2/projects/{}/dataconnectors/{}:test"). */
export function offers(method, path) {
  return routes.has(`${method} ${shape(path)}`);
}

/** The enumeration of a schema's property in the OpenAPI document (event types, device types). */
export function enumeration(schema, property) {
  const found = ((schemas[schema] || {}).properties || {})[property] || {};
  return found.enum || (found.items || {}).enum || [];
}

export function project(projectId) {
  return session.projects.find((entry) => entry.name === `projects/${projectId}`);
}

/** Whether the signed-in account may change things in the project (developer and above). */
export function canEdit(projectId) {
  const found = project(projectId);
  return Boolean(found) && found.role !== "roles/project.user";
}

export function query(parameters) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
