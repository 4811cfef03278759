"""The OpenAPI document tells clients the problems the escrow really answers.

Every refusal is an RFC 9457 problem (application/problem+json): a request that fails
validation gets a 400, a body over the limit a 413 (middleware, before any route), and a
refused value a 422 — never FastAPI's default `HTTPValidationError` shape, which the app
does not send. `notalone.web.problems.document_problems` rewrites the generated document
to say so; the stateful fuzzing test (tests/security/test_openapi_fuzzing.py) holds the
answers to it.
"""

from __future__ import annotations

from typing import Any

from notalone.serving import PROBLEM_MEDIA_TYPE
from notalone.web.problems import document_problems
from tests.web.conftest import Env


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_refusal_is_documented_as_a_problem(env: Env) -> None:
    schema = env.app.openapi()
    operations = _operations(schema)
    assert len(operations) > 40
    for method, path, operation in operations:
        responses = operation["responses"]
        assert "400" in responses, (method, path)
        if "requestBody" in operation:
            assert "413" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith("4"):
                assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path, status)
    assert "HTTPValidationError" not in str(schema)


def test_the_relayed_evaluation_documents_its_body_and_the_key_servers_answers(
    env: Env,
) -> None:
    operation = env.app.openapi()["paths"]["/v1/keyservers/{position}/evaluate"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"ticket", "blinded_elements"}
    assert {"200", "400", "401", "413", "422", "429", "502"} <= set(operation["responses"])


def test_document_problems_keeps_what_a_route_documented_itself() -> None:
    own = {"description": "mine", "content": {PROBLEM_MEDIA_TYPE: {"schema": {}}}}
    schema: dict[str, Any] = {
        "paths": {
            "/a": {
                "post": {
                    "requestBody": {},
                    "responses": {
                        "400": own,
                        "422": {"content": {"application/json": {"schema": {}}}},
                    },
                },
                "get": {"responses": {"422": own}},
            }
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}, "X": {}}},
    }
    document_problems(schema)
    post, get = schema["paths"]["/a"]["post"], schema["paths"]["/a"]["get"]
    assert post["responses"]["400"] is own
    assert list(post["responses"]["422"]["content"]) == [PROBLEM_MEDIA_TYPE]
    assert "413" in post["responses"]
    assert get["responses"]["422"] is own
    assert "413" not in get["responses"]
    assert "400" in get["responses"]
    assert schema["components"]["schemas"] == {"X": {}}
