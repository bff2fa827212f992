"""Which routes DATA-01 tries, read from an OpenAPI document as FastAPI writes it."""

from __future__ import annotations

from edupro_verify.probes.routes import Route, returning_a_student

DOCUMENT = {
    "paths": {
        "/api/v1/students/me": {"get": {"tags": ["students"]}},
        "/api/v1/students/{student_id}": {
            "get": {"tags": ["students"], "parameters": [{"name": "student_id", "in": "path"}]},
            "delete": {"tags": ["students"], "parameters": [{"name": "student_id", "in": "path"}]}},
        "/api/v1/classes/{class_id}/students": {"get": {"parameters": [{"name": "class_id", "in": "path"},
                                                                       {"name": "purpose", "in": "header"}]}},
        "/api/v1/directory/{student_id}": {"get": {"tags": ["students", "directory information"],
                                                   "parameters": [{"name": "student_id", "in": "path"}]}},
        "/api/v1/schools/{school}/students/{student_id}": {"get": {"parameters": [
            {"name": "school", "in": "path"}, {"name": "student_id", "in": "path"}]}},
        "/api/v1/predictions": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/PredictionRequest"}}}}}},
        "/api/v1/students": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/NewStudent"}}}}}},
    },
    "components": {"schemas": {"PredictionRequest": {"properties": {"student_id": {}, "features": {}}},
                               "NewStudent": {"properties": {"name": {}, "email": {}}}}},
}


def test_every_read_by_a_student_or_class_key_is_tried_and_directory_information_is_not() -> None:
    found = {str(r): r for r in returning_a_student(DOCUMENT)}
    assert set(found) == {"GET /api/v1/students/{student_id}", "GET /api/v1/classes/{class_id}/students",
                          "GET /api/v1/schools/{school}/students/{student_id}", "POST /api/v1/predictions"}
    assert found["GET /api/v1/schools/{school}/students/{student_id}"].unknown == ("school",)
    values = {"student_id": 7, "class_id": 3}
    assert found["GET /api/v1/classes/{class_id}/students"].request(values) == ("GET", "/api/v1/classes/3/students", {})
    assert found["POST /api/v1/predictions"].request(values) == ("POST", "/api/v1/predictions",
                                                                  {"json": {"student_id": 7}})
    assert Route("get", "/x/{student_id}", ("student_id",)).request(values)[1] == "/x/7"
