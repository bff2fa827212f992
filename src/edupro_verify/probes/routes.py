"""The API's routes as its own OpenAPI document describes them, and which of them return a student's data (DATA-01).

The document is the one the target publishes (`/api/v1/openapi.json`) or, where the documentation is not public
(staging, production), the one each running instance writes as it starts (the profile's `api_descriptions` folder
on the host that runs the backend). A route added to the API is then tried without changing the suite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import ProbeError
from ..targets import Target
from .http import Api

PUBLISHED = "/api/v1/openapi.json"
# Path and body fields that name whose data a route returns: a student, or a class of students.
KEYS = ("student_id", "class_id")
# FERPA 34 CFR 99.37: directory information is open to every signed-in user, unless the student opted out.
DIRECTORY = "directory information"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    keys: tuple[str, ...]  # the fields naming whose data it returns, in the path or the JSON body
    in_body: bool = False
    unknown: tuple[str, ...] = ()  # path parameters the suite cannot fill

    def request(self, values: dict[str, int]) -> tuple[str, str, dict[str, Any]]:
        """METHOD, the path filled in, and the JSON body (where the route takes the key there)."""
        path = self.path
        for key in self.keys:
            path = path.replace("{" + key + "}", str(values[key]))
        body = {"json": {k: values[k] for k in self.keys}} if self.in_body else {}
        return self.method.upper(), path, body

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def description(target: Target, api: Api) -> tuple[dict[str, Any], str]:
    """The API's OpenAPI document and where it was read: published, else the instances' own files (their paths
    merged: blue and green may run different releases)."""
    response = api.get(PUBLISHED)
    if response.status_code == 200 and "paths" in response.json():
        return dict(response.json()), f"GET {PUBLISHED}"
    if "api_descriptions" not in target.paths:
        raise ProbeError(f"the API does not publish {PUBLISHED} ({response.status_code}) and the profile names no "
                         "api_descriptions folder (where each instance writes its OpenAPI document)")
    folder = target.path("api_descriptions")
    host = target.host_of("api_descriptions")
    names = sorted(n for n in host.file(str(folder)).listdir() if n.endswith(".json")) if host.file(str(folder)).is_directory else []
    if not names:
        raise ProbeError(f"no OpenAPI document in {folder} on the backend's host: the API does not publish {PUBLISHED} "
                         "and no running instance wrote its description there")
    merged: dict[str, Any] = {"paths": {}, "components": {"schemas": {}}}
    for name in names:  # by path and method: a route either colour serves is tried
        document = json.loads(host.file(f"{folder}/{name}").content_string)
        for path, operations in document.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        merged["components"]["schemas"].update(document.get("components", {}).get("schemas", {}))
    return merged, f"{folder}/{{{','.join(names)}}}"


def returning_a_student(document: dict[str, Any]) -> list[Route]:
    """Every route that reads a student's data by key: a GET whose path names a student or a class, or a POST whose
    JSON body names a student (a prediction); directory information aside. Routes that change data are not tried."""
    schemas = document.get("components", {}).get("schemas", {})
    routes = []
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post") or DIRECTORY in operation.get("tags", []):
                continue
            in_path = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            if method == "get" and set(in_path) & set(KEYS):
                routes.append(Route(method, path, tuple(k for k in in_path if k in KEYS),
                                    unknown=tuple(k for k in in_path if k not in KEYS)))
            elif method == "post" and not in_path and "student_id" in _body_fields(operation, schemas):
                routes.append(Route(method, path, ("student_id",), in_body=True))
    return routes


def _body_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    reference = schema.get("$ref", "")
    if reference.startswith("#/components/schemas/"):
        schema = schemas.get(reference.rsplit("/", 1)[1], {})
    return set(schema.get("properties", {}))
