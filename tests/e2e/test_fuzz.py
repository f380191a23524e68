"""The API fuzzed from its own OpenAPI document: no 5xx, and every answer as documented.

Requests go to a real gateway process, as a developer of a real project; the project, connector
and device path parameters are narrowed to that project's real ids and one unknown id each, so
most requests reach the handlers instead of stopping at a 404.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import checks
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from tests.e2e.processes import GatewayProcess, admin, gateway_env

pytestmark = pytest.mark.slow
EXAMPLES = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 40}
UNKNOWN_ID = "c0000000000000000000"


class Fuzzed:
    """A gateway process, a developer's credentials, and real ids in its project."""

    def __init__(self, base_url: str, headers: dict[str, str], ids: dict[str, str]) -> None:
        self.base_url = base_url
        self.headers = headers
        self.ids = ids
        self.session = requests.Session()
        self.calls = 0

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/v2/projects/{self.ids['project']}/{path}"
        answer = self.session.post(url, json=body, headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def create(self, path: str, body: dict[str, Any]) -> str:
        return str(self.post(path, body)["name"]).rsplit("/", 1)[-1]


@pytest.fixture
def fuzzed(database_url: str, tmp_path: Path) -> Iterator[Fuzzed]:
    # No dispatcher: connectors the fuzzer creates would push to whatever URL it made up.
    env = gateway_env(database_url, dispatcher="false")
    project = admin(env, "create-project", "--name", "fuzz")["projectId"]
    account = admin(env, "create-service-account", "--project", project)
    token = base64.b64encode(f"{account['keyId']}:{account['secret']}".encode()).decode()
    process = GatewayProcess(env, tmp_path / "gateway.log").start()
    try:
        target = Fuzzed(process.url, {"Authorization": f"Basic {token}"}, {"project": project})
        device = target.ids["device"] = target.create("devices", {"type": "temperature"})
        target.post(f"devices/{device}:publish", {"temperature": {"value": 21.5}})
        target.ids["connector"] = target.create(
            "dataconnectors", {"httpConfig": {"url": "https://example.com/hook"}}
        )
        yield target
        target.session.close()
    finally:
        process.stop()
    assert '"level": "error"' not in process.logs()


def narrowed(document: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The document with each id path parameter limited to a real id or an unknown one."""
    narrowed = copy.deepcopy(document)
    parameters = narrowed["components"]["parameters"]
    parameters["project"]["schema"] = {"type": "string", "enum": [ids["project"]]}
    for name in ("connector", "device"):
        parameters[name]["schema"] = {"type": "string", "enum": [ids[name], UNKNOWN_ID]}
    return narrowed


RESPONSE_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def fuzz(operation: Any, mode: GenerationMode, target: Fuzzed) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        headers = {**dict(case.headers or {}), **target.headers}
        response = case.call(
            base_url=target.base_url, session=target.session, headers=headers, timeout=10
        )
        case.validate_response(response, checks=RESPONSE_CHECKS, headers=headers)
        target.calls += 1

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Only in negative mode: an operation without parameters or body has nothing to break.
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.timeout(480)  # some 50 operations, a few thousand requests
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzzed_requests_get_documented_answers(fuzzed: Fuzzed, mode: GenerationMode) -> None:
    url = f"{fuzzed.base_url}/v2/openapi.json"
    document = orjson.loads(requests.get(url, timeout=10).content)
    schema = schemathesis.openapi.from_dict(narrowed(document, fuzzed.ids))
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 20
    for operation in operations:
        if operation.path.endswith(":stream"):
            continue  # a long-lived answer: tests/integration/test_sdk_stream.py covers it
        fuzz(operation, mode, fuzzed)
    print(f"{mode.value}: {fuzzed.calls} requests over {len(operations)} operations")
    assert fuzzed.calls >= len(operations)
