"""DT's roles and their permissions: `GET /v2/roles`, `GET /v2/roles/{role}`.

Permission names are DT's. Each role holds every permission of the roles below it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.api import auth
from gateway.api.common import caller, json_response
from gateway.errors import NotFound

routes = web.RouteTableDef()

_USER = (
    "project.read", "membership.read", "sensor.read", "device.read", "dataconnector.read",
    "serviceaccount.read", "serviceaccount.key.read", "emulator.read",
)
_DEVELOPER = (
    *_USER,
    "sensor.update", "device.update", "dataconnector.create", "dataconnector.update",
    "dataconnector.delete", "emulator.create", "emulator.update", "emulator.delete",
)
_ADMIN = (
    *_DEVELOPER,
    "project.update", "membership.create", "membership.update", "membership.delete",
    "serviceaccount.create", "serviceaccount.update", "serviceaccount.delete",
    "serviceaccount.key.create", "serviceaccount.key.delete",
)
_ORGANIZATION = ("organization.read", "project.create", "project.delete")


@dataclass(frozen=True)
class Role:
    name: str
    display_name: str
    description: str
    permissions: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "displayName": self.display_name,
            "description": self.description,
            "permissions": list(self.permissions),
        }


ROLES = {
    role.name: role
    for role in (
        Role(auth.USER, "Project user",
             "Users cannot change anything, just view the data in the Project", _USER),
        Role(auth.DEVELOPER, "Project developer",
             "Allows editing devices and Project settings", _DEVELOPER),
        Role(auth.ADMIN, "Project administrator",
             "Full access to the Project, including its members and service accounts", _ADMIN),
        Role(auth.ORGANIZATION_ADMIN, "Organization administrator",
             "Creates and deletes projects; administrator of every project of the organization",
             (*_ORGANIZATION, *_ADMIN)),
    )
}


def permissions_in_project(principal: auth.Principal, project_id: str) -> list[str]:
    """What the caller may do in a project it can see."""
    if principal.organization_admin:
        return list(ROLES[auth.ORGANIZATION_ADMIN].permissions)
    return list(ROLES[principal.roles[project_id]].permissions)


@routes.get("/v2/roles")
async def list_roles(request: web.Request) -> web.Response:
    await caller(request)
    return json_response({
        "roles": [role.to_json() for role in ROLES.values()],
        "nextPageToken": "",
    })


@routes.get("/v2/roles/{role}")
async def get_role(request: web.Request) -> web.Response:
    """The SDK asks for `project.user`; `roles/project.user` is the role's full name."""
    await caller(request)
    role = ROLES.get("roles/" + request.match_info["role"])
    if role is None:
        raise NotFound(f"role {request.match_info['role']} not found")
    return json_response(role.to_json())
