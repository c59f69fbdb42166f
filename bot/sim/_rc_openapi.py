"""Request validation against RingCentral's OpenAPI spec (openapi-core, a test extra).

The spec does not pass openapi-core's own spec validation, so that is switched off. It is
YAML 1.1 on disk but meant as YAML 1.2: only `true`/`false` are booleans, or enum values
such as `Off` turn into False. Parsing 1.7 MB of YAML takes seconds, so the parsed spec is
cached per process. Beyond the spec: a query parameter the operation does not declare, or
an enum value outside the list, is answered 400 CMN-101 naming the parameter.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from ._rc_http import SimRequest, SimResponse, api_error, invalid_param

JSONDict = dict[str, Any]
HOSTS = {"platform": "https://platform.ringcentral.com", "media": "https://media.ringcentral.com"}
# Auth on the query string is the media host's documented alternative to the header
ALWAYS_ALLOWED = {"access_token"}
# SPEC says subscriptionId maxLength 20, but every real id is a 36-char UUID (reference §2.5)
IGNORED_PARAMS = {"subscriptionId"}


def _loader() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Yaml12Loader(base):  # type: ignore[misc,valid-type]
        pass

    # drop YAML 1.1's yes/no/on/off booleans, keep only true/false (YAML 1.2 core schema)
    Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return Yaml12Loader


@cache
def load_spec(path: Path) -> JSONDict:
    import yaml

    with path.open("rb") as fh:
        spec = yaml.load(fh, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    assert isinstance(spec, dict)
    return spec


class SpecValidator:
    """Validates requests for one spec; one instance per spec path and process."""

    _instances: dict[Path, SpecValidator] = {}  # noqa: RUF012 - a per-process cache

    def __init__(self, spec: JSONDict) -> None:
        self.spec = spec
        self._apps: dict[str, Any] = {}

    @classmethod
    def for_path(cls, path: Path) -> SpecValidator:
        path = path.resolve()
        if path not in cls._instances:
            cls._instances[path] = cls(load_spec(path))
        return cls._instances[path]

    # -- spec lookups -------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def operation(self, template: str, method: str) -> JSONDict | None:
        item = self.spec.get("paths", {}).get(template)
        op = item.get(method.lower()) if isinstance(item, dict) else None
        return op if isinstance(op, dict) else None

    def throttling_group(self, template: str, method: str) -> str | None:
        op = self.operation(template, method)
        return op.get("x-throttling-group") if op else None

    def query_schemas(self, template: str, method: str) -> dict[str, JSONDict]:
        op = self.operation(template, method) or {}
        item = self.spec["paths"][template]
        out: dict[str, JSONDict] = {}
        for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
            param = self.resolve(raw)
            if param.get("in") == "query":
                out[param["name"]] = self.resolve(param.get("schema", {}))
        return out

    # -- checks ---------------------------------------------------------------------------

    def check(self, req: SimRequest, template: str) -> SimResponse | None:
        """None when the request is one RingCentral would accept, else its 400."""
        if self.operation(template, req.method) is None:
            return None
        declared = self.query_schemas(template, req.method)
        for name, values in req.query_multi().items():
            if name in ALWAYS_ALLOWED:
                continue
            schema = declared.get(name)
            if schema is None:
                return invalid_param(name, f"Parameter [{name}] is not allowed")
            allowed = self._enum(schema)
            if allowed is None:
                continue
            for value in values:
                for item in value.split(",") if schema.get("type") == "array" else [value]:
                    if item not in allowed:
                        return invalid_param(name, f"Parameter [{name}] value is invalid")
        return self._openapi_core(req, template)

    def _enum(self, schema: JSONDict) -> set[str] | None:
        if schema.get("type") == "array":
            schema = self.resolve(schema.get("items", {}))
        enum = schema.get("enum")
        return {str(v) for v in enum} if isinstance(enum, list) else None

    def _app(self, template: str) -> Any:
        """An openapi-core app for one path: finding the path among 240 costs more than
        validating the request."""
        if template not in self._apps:
            from jsonschema_path import SchemaPath
            from openapi_core import OpenAPI
            from openapi_core.configurations import Config

            item = self.spec["paths"][template]
            # the simulator checks tokens itself; openapi-core warns on OAuth2 schemes
            ops: JSONDict = {}
            for key, op in item.items():
                if key == "parameters":
                    ops[key] = self._inline_params(op)
                elif isinstance(op, dict):
                    params = self._inline_params(op.get("parameters", []))
                    ops[key] = {**op, "security": [], "parameters": params}
                else:
                    ops[key] = op
            mini = {
                "openapi": self.spec["openapi"],
                "info": self.spec["info"],
                "servers": self.spec["servers"],
                "paths": {template: ops},
                "components": self._reachable(ops),
            }
            self._apps[template] = OpenAPI(
                SchemaPath.from_dict(mini), config=Config(spec_validator_cls=None)
            )
        return self._apps[template]

    def _reachable(self, root: Any) -> JSONDict:
        """Only the components `root` refers to: a small document resolves much faster."""
        out: JSONDict = {}
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/components/"):
                    _, _, kind, name = ref.split("/", 3)
                    if name not in out.setdefault(kind, {}):
                        out[kind][name] = self.spec["components"][kind][name]
                        stack.append(out[kind][name])
                stack.extend(v for k, v in node.items() if k != "$ref")
        return out

    def _inline_params(self, params: list[Any]) -> list[JSONDict]:
        """Parameters with their `$ref`s resolved: jsonschema-path resolving a ref against a
        1.7 MB document costs milliseconds, per parameter, per request."""
        out = []
        for raw in params:
            param = dict(self.resolve(raw))
            if "schema" in param:
                schema = dict(self.resolve(param["schema"]))
                if "items" in schema:
                    schema["items"] = self.resolve(schema["items"])
                param["schema"] = schema
            out.append(param)
        return out

    def _openapi_core(self, req: SimRequest, template: str) -> SimResponse | None:
        from openapi_core.validation.request.exceptions import (
            ParameterValidationError,
            RequestBodyValidationError,
            SecurityValidationError,
        )

        from ._rc_openapi_request import CoreRequest

        body, content_type = req.body, req.header("content-type") or ""
        multipart = req.content_type.startswith("multipart/")
        if multipart:
            # openapi-core cannot read multipart/mixed: validate the JSON envelope part
            body, content_type = _json_part(req), "application/json"
        core_req = CoreRequest(req, HOSTS[req.host], body, content_type)
        with warnings.catch_warnings():
            # the spec uses allowEmptyValue, which openapi-core flags as deprecated
            warnings.simplefilter("ignore")
            errors = list(self._app(template).request_validator.iter_errors(core_req))
        for err in errors:
            if isinstance(err, SecurityValidationError):
                continue  # the simulator checks tokens itself
            if isinstance(err, ParameterValidationError):
                if err.name in IGNORED_PARAMS:
                    continue
                return invalid_param(err.name)
            if isinstance(err, RequestBodyValidationError):
                if multipart and not body:
                    continue  # the hand-written MMS checks answer this
                cause = err.__cause__
                detail = "; ".join(e.message for e in getattr(cause, "schema_errors", []))
                return api_error(400, "CMN-101", f"Request body is invalid: {detail or err}")
            return api_error(400, "CMN-101", str(err))
        return None


def _json_part(req: SimRequest) -> bytes:
    from ._rc_messaging import BadRequest, split_multipart

    try:
        parts = split_multipart(req.header("content-type") or "", req.body)
    except BadRequest:
        return b""
    if not parts or parts[0].get_content_type() != "application/json":
        return b""
    payload = parts[0].get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
