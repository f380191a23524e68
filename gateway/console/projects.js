// The projects the signed-in account is a member of.

import {resumeSession, session} from "./api.js";
import {h, lastPart, show} from "./dom.js";

export async function renderProjects(view) {
  await resumeSession().catch(() => null);
  const rows = session.projects.map((project) => {
    const id = lastPart(project.name);
    return h("tr", null,
      h("td", null, h("a", {href: `#/projects/${encodeURIComponent(id)}`}, project.displayName || id)),
      h("td", null, h("code", null, id)),
      h("td", null, project.role),
      h("td", {class: "links"},
        h("a", {href: `#/projects/${id}/devices`}, "Devices"), " ",
        h("a", {href: `#/projects/${id}/events`}, "Live events")));
  });
  show(view,
    h("h1", null, "Projects"),
    rows.length
      ? h("table", {class: "list"},
        h("caption", {class: "visually-hidden"}, "Projects you are a member of"),
        h("thead", null, h("tr", null,
          h("th", {scope: "col"}, "Project"), h("th", {scope: "col"}, "Id"),
          h("th", {scope: "col"}, "Your role"), h("th", {scope: "col"}, "Pages"))),
        h("tbody", null, rows))
      : h("p", null, "This service account is not a member of any project."));
}
