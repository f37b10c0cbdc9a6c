"""Check request and response bodies against Market's OpenAPI schema.

The schema is ``tests/data/openapi-subset.json``: fourteen operations of the official Partner API
spec (OpenAPI 3.0, BSD-3-Clause, see ``tests/data/LICENSE-openapi``) with their ``$ref``s inlined.
Schemas are checked with JSON Schema draft 2020-12 after two OpenAPI 3.0 adjustments: a
``nullable: true`` schema also accepts null, and the formats Market uses (``date``, ``date-time``,
``time`` as ``HH:MM``, ``date-dd-MM-yyyy``, ``date-dd-MM-yyyy-HH-mm-ss``) are asserted, not just
annotated. Mismatches raise AssertionError naming the operation and every failing location.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

__all__ = ["validate_request", "validate_response"]

SPEC_PATH = Path(__file__).parent / "data" / "openapi-subset.json"

_FORMATS = FormatChecker(formats=())
_PATTERNS = {
    "date": (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    "time": (r"\d{2}:\d{2}", "%H:%M"),
    "date-dd-MM-yyyy": (r"\d{2}-\d{2}-\d{4}", "%d-%m-%Y"),
    "date-dd-MM-yyyy-HH-mm-ss": (r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}", "%d-%m-%Y %H:%M:%S"),
}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def _register(name: str, pattern: str, layout: str) -> None:
    @_FORMATS.checks(name, raises=ValueError)
    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True  # formats constrain strings only
        datetime.datetime.strptime(value, layout)  # real calendar values, not just digits
        return re.fullmatch(pattern, value) is not None


for _name, (_pattern, _layout) in _PATTERNS.items():
    _register(_name, _pattern, _layout)


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339: a date, a time to the second or finer and an offset (``Z`` or ``±HH:MM``)."""
    if not isinstance(value, str):
        return True
    datetime.datetime.fromisoformat(value)
    return _DATE_TIME.fullmatch(value) is not None


def _nullable(schema: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` as JSON Schema: null joins ``type`` (and ``enum``)."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _nullable(value) for key, value in schema.items()}
    if result.pop("nullable", False) is True:
        if "type" in result:
            result["type"] = [result["type"], "null"]
        if "enum" in result:
            result["enum"] = [*result["enum"], None]
    return result


@functools.cache
def _spec() -> tuple[list[tuple[str, re.Pattern[str], str]], dict[str, dict[str, Any]]]:
    """(method, path pattern, operationId) triples and the operations by operationId."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    routes, operations = [], {}
    for template, methods in spec["paths"].items():
        pieces = re.split(r"\{[^}]+\}", template)  # "{campaignId}" matches one path segment
        pattern = re.compile("^" + "[^/]+".join(map(re.escape, pieces)) + "$")
        for method, operation in methods.items():
            routes.append((method.upper(), pattern, operation["operationId"]))
            operations[operation["operationId"]] = operation
    return routes, operations


def _operation(method: str, path: str) -> str:
    for known_method, pattern, name in _spec()[0]:
        if known_method == method.upper() and pattern.match(path.split("?", 1)[0]):
            return name
    raise AssertionError(f"{method} {path}: no such operation in {SPEC_PATH.name}")


@functools.cache
def _validator(name: str, status: int | None) -> Draft202012Validator | None:
    """The validator of the request body (``status`` None) or of one response status."""
    operation = _spec()[1][name]
    holder = operation.get("requestBody", {}) if status is None else operation["responses"]
    if status is not None:
        holder = holder.get(str(status), {})
    schema = holder.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    return Draft202012Validator(_nullable(schema), format_checker=_FORMATS)


def _check(validator: Draft202012Validator, body: Any, what: str) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    if errors:
        lines = [
            f"  {error.json_path}: {error.message[:200]}"  # enum dumps can run to pages
            for error in errors[:10]
        ]
        raise AssertionError(f"{what} does not match the spec:\n" + "\n".join(lines))


def validate_request(method: str, path: str, body: Any) -> None:
    """Assert that ``body`` (parsed JSON, None for no body) is a valid request of the operation."""
    name = _operation(method, path)
    validator = _validator(name, None)
    if validator is None:
        assert body is None, f"{name} takes no request body, got {body!r}"
    elif body is None:
        assert not _spec()[1][name]["requestBody"].get("required"), f"{name} needs a request body"
    else:
        _check(validator, body, f"{name} request")


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Assert that ``body`` matches the documented answer of that status, when there is one."""
    name = _operation(method, path)
    validator = _validator(name, status)
    if validator is not None:
        _check(validator, body, f"{name} {status} response")
