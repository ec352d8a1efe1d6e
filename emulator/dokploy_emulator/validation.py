"""Input validation for the JSON-schema subset of Dokploy's procedure inputs, reporting zod issues.

The REST adapter turns each procedure's zod schema into what ``schemas.json`` holds; validation
errors are zod issues, whose shape depends on the zod major version (v3 up to Dokploy 0.27,
v4 from 0.28). Like the adapter, number/boolean fields are coerced (JS ``Number``/truthiness)
and unknown keys are stripped.
"""

from __future__ import annotations

import copy
import json
import math
import re
from importlib import resources
from typing import Any

from .errors import ApiError

Schema = dict[str, Any]
_MISSING = object()


def load_schemas() -> dict[str, dict[str, Any]]:
    """The packaged ``{procedure: {"method", "input"}}`` map."""
    text = resources.files(__package__).joinpath("schemas.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text)["procedures"]
    return data


def js_number(value: Any) -> float:
    """JavaScript ``Number(value)`` for JSON values."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        if re.fullmatch(r"[+-]?Infinity", text):
            return -math.inf if text.startswith("-") else math.inf
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return float(text)
        return math.nan
    if isinstance(value, list) and len(value) <= 1:
        return js_number(value[0]) if value else 0.0
    return math.nan


def js_truthy(value: Any) -> bool:
    """JavaScript ``Boolean(value)`` for JSON values (``"false"`` is true)."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") or isinstance(value, list | dict)


def _type_name(value: Any, v4: bool) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return "NaN" if v4 else "nan"
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _clean_number(value: float) -> int | float:
    return int(value) if math.isfinite(value) and value == int(value) else value


class _Validator:
    def __init__(self, v4: bool) -> None:
        self.v4 = v4
        self.issues: list[dict[str, Any]] = []

    # --- issue builders (zod v3 and v4 spellings) ---
    def invalid_type(self, expected: str, value: Any, path: list[Any]) -> None:
        received = _type_name(value, self.v4)
        if self.v4:
            self.issues.append(
                {
                    "expected": expected,
                    "code": "invalid_type",
                    "path": path,
                    "message": f"Invalid input: expected {expected}, received {received}",
                }
            )
        else:
            message = (
                "Required" if value is _MISSING else f"Expected {expected}, received {received}"
            )
            self.issues.append(
                {
                    "code": "invalid_type",
                    "expected": expected,
                    "received": received,
                    "path": path,
                    "message": message,
                }
            )

    def size(self, kind: str, origin: str, bound: float, path: list[Any]) -> None:
        bound_out = _clean_number(bound)
        if self.v4:
            rel = ">=" if kind == "too_small" else "<="
            msg = (
                f"expected string to have {rel}{bound_out} characters"
                if origin == "string"
                else f"expected number to be {rel}{bound_out}"
            )
            word = "Too small" if kind == "too_small" else "Too big"
            self.issues.append(
                {
                    "origin": origin,
                    "code": kind,
                    ("minimum" if kind == "too_small" else "maximum"): bound_out,
                    "inclusive": True,
                    "path": path,
                    "message": f"{word}: {msg}",
                }
            )
            return
        if origin == "string":
            rel = "at least" if kind == "too_small" else "at most"
            msg = f"String must contain {rel} {bound_out} character(s)"
        else:
            rel = "greater than" if kind == "too_small" else "less than"
            msg = f"Number must be {rel} or equal to {bound_out}"
        self.issues.append(
            {
                "code": kind,
                ("minimum" if kind == "too_small" else "maximum"): bound_out,
                "type": origin,
                "inclusive": True,
                "exact": False,
                "message": msg,
                "path": path,
            }
        )

    def pattern(self, pattern: str, path: list[Any]) -> None:
        if self.v4:
            self.issues.append(
                {
                    "origin": "string",
                    "code": "invalid_format",
                    "format": "regex",
                    "pattern": f"/{pattern}/",
                    "path": path,
                    "message": f"Invalid string: must match pattern /{pattern}/",
                }
            )
        else:
            self.issues.append(
                {
                    "validation": "regex",
                    "code": "invalid_string",
                    "message": "Invalid",
                    "path": path,
                }
            )

    def enum(self, options: list[Any], value: Any, path: list[Any]) -> None:
        if self.v4:
            joined = "|".join(json.dumps(o) for o in options)
            self.issues.append(
                {
                    "code": "invalid_value",
                    "values": options,
                    "path": path,
                    "message": f"Invalid option: expected one of {joined}",
                }
            )
            return
        joined = " | ".join(f"'{o}'" for o in options)
        if not isinstance(value, str):
            self.invalid_type(joined, value, path)
            return
        self.issues.append(
            {
                "received": value,
                "code": "invalid_enum_value",
                "options": options,
                "path": path,
                "message": f"Invalid enum value. Expected {joined}, received '{value}'",
            }
        )

    # --- walking the schema ---
    def check(self, schema: Schema, value: Any, path: list[Any], coerce: bool) -> Any:
        """Issues for ``value`` (never ``_MISSING``: ``_object`` reports missing keys)."""
        if "anyOf" in schema:
            return self._any_of(schema["anyOf"], value, path, coerce)
        if "enum" in schema:
            if value not in schema["enum"]:
                self.enum(list(schema["enum"]), value, path)
            return value
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema, value, path)
        if kind == "array":
            if not isinstance(value, list):
                self.invalid_type("array", value, path)
                return value
            return [
                self.check(schema.get("items", {}), item, [*path, i], False)
                for i, item in enumerate(value)
            ]
        if kind == "string":
            return self._string(schema, value, path)
        if kind in ("number", "integer"):
            return self._number(schema, value, path, coerce)
        if kind == "boolean":
            if coerce:
                return js_truthy(value)
            if not isinstance(value, bool):
                self.invalid_type("boolean", value, path)
            return value
        if kind == "null":
            if value is not None:
                self.invalid_type("null", value, path)
            return value
        return value

    def _any_of(self, options: list[Schema], value: Any, path: list[Any], coerce: bool) -> Any:
        others = [o for o in options if o.get("type") != "null"]
        if len(others) == 1 and len(options) == 2:
            # zod's .nullable(): null passes, anything else is checked by the inner type.
            if value is None:
                return None
            return self.check(others[0], value, path, coerce)
        branch_issues: list[list[dict[str, Any]]] = []
        for option in options:
            sub = _Validator(self.v4)
            result = sub.check(option, copy.deepcopy(value), path, coerce)
            if not sub.issues:
                return result
            branch_issues.append(sub.issues)
        if self.v4:
            self.issues.append(
                {
                    "code": "invalid_union",
                    "errors": branch_issues,
                    "path": path,
                    "message": "Invalid input",
                }
            )
        else:
            self.issues.append(
                {
                    "code": "invalid_union",
                    "unionErrors": [{"issues": i, "name": "ZodError"} for i in branch_issues],
                    "path": path,
                    "message": "Invalid input",
                }
            )
        return value

    def _object(self, schema: Schema, value: Any, path: list[Any]) -> Any:
        if not isinstance(value, dict):
            self.invalid_type("object", value, path)
            return value
        required = set(schema.get("required", []))
        out: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            item = value.get(key, _MISSING)
            if item is _MISSING:
                if "default" in prop:
                    out[key] = copy.deepcopy(prop["default"])
                elif key in required:
                    self.invalid_type(_expected_name(prop), _MISSING, [*path, key])
                continue
            # The adapter switches zod coercion on for the object's primitive fields.
            out[key] = self.check(prop, item, [*path, key], coerce=not path)
        return out

    def _string(self, schema: Schema, value: Any, path: list[Any]) -> Any:
        if not isinstance(value, str):
            self.invalid_type("string", value, path)
            return value
        length = len(value.encode("utf-16-le")) // 2  # JS string length counts UTF-16 units
        if "minLength" in schema and length < schema["minLength"]:
            self.size("too_small", "string", schema["minLength"], path)
        if "maxLength" in schema and length > schema["maxLength"]:
            self.size("too_big", "string", schema["maxLength"], path)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            self.pattern(schema["pattern"], path)
        return value

    def _number(self, schema: Schema, value: Any, path: list[Any], coerce: bool) -> Any:
        if coerce:
            value = js_number(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            self.invalid_type("number", value, path)
            return value
        if schema.get("type") == "integer" and not float(value).is_integer():
            if self.v4:
                self.issues.append(
                    {
                        "expected": "int",
                        "code": "invalid_type",
                        "format": "safeint",
                        "path": path,
                        "message": "Invalid input: expected int, received number",
                    }
                )
            else:
                self.issues.append(
                    {
                        "code": "invalid_type",
                        "expected": "integer",
                        "received": "float",
                        "message": "Expected integer, received float",
                        "path": path,
                    }
                )
            return value
        if "minimum" in schema and value < schema["minimum"]:
            self.size("too_small", "number", schema["minimum"], path)
        if "maximum" in schema and value > schema["maximum"]:
            self.size("too_big", "number", schema["maximum"], path)
        return _clean_number(float(value))


def _expected_name(schema: Schema) -> str:
    if "anyOf" in schema:
        names = [s.get("type", "unknown") for s in schema["anyOf"] if s.get("type") != "null"]
        return names[0] if len(names) == 1 else "union"
    if "enum" in schema:
        return " | ".join(f"'{o}'" for o in schema["enum"])
    kind = schema.get("type", "unknown")
    return "number" if kind == "integer" else str(kind)


def flatten(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """zod's ``error.flatten()``: form-level messages and messages per top-level field."""
    form: list[str] = []
    fields: dict[str, list[str]] = {}
    for issue in issues:
        if issue["path"]:
            fields.setdefault(str(issue["path"][0]), []).append(issue["message"])
        else:
            form.append(issue["message"])
    return {"formErrors": form, "fieldErrors": fields}


def validate_input(schema: Schema | None, raw: dict[str, Any], zod_v4: bool) -> dict[str, Any]:
    """Validate and coerce one procedure input; raise 400 "Input validation failed" on issues."""
    if schema is None:
        return {}
    validator = _Validator(zod_v4)
    result = validator.check(schema, raw, [], coerce=False)
    if validator.issues:
        raise ApiError(
            "BAD_REQUEST",
            "Input validation failed",
            issues=validator.issues,
            zod_error=flatten(validator.issues),
        )
    assert isinstance(result, dict)
    return result
