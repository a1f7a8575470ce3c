"""Rules the API enforces at its edge, stated in the OpenAPI schema where the schema would not otherwise
say them: text never holds a NUL character (api/inputs.py refuses it in every body, query and path), and
the request headers of api/conditions.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import ParameterKwarg

from api.conditions import DECLARED_HEADERS

#: Text without a NUL character (U+0000): what every string the API reads must be.
WITHOUT_NUL = r"^[^\x00]*$"


def state_text_rule(schema: Any) -> None:
    """Give every free-text string in `schema` (not one with a pattern, format, enumeration or constant of
    its own) the pattern that refuses NUL; references are left to their own components."""
    if not isinstance(schema, Schema):
        return
    kinds = schema.type if isinstance(schema.type, list) else [schema.type]
    free = schema.pattern is None and schema.format is None and schema.enum is None and schema.const is None
    if OpenAPIType.STRING in kinds and free:
        schema.pattern = WITHOUT_NUL
    for member in (*(schema.one_of or ()), *(schema.any_of or ()), *(schema.all_of or ())):
        state_text_rule(member)
    if schema.items is not None:
        state_text_rule(schema.items)
    for value in (schema.properties or {}).values():
        state_text_rule(value)


#: Constraints (msgspec's and Litestar's names) and the schema keywords that state them.
_KEYWORDS = {
    "ge": "minimum",
    "gt": "exclusive_minimum",
    "le": "maximum",
    "lt": "exclusive_maximum",
    "multiple_of": "multiple_of",
    "min_length": "min_length",
    "max_length": "max_length",
    "min_items": "min_items",
    "max_items": "max_items",
    "pattern": "pattern",
}


def restore_constraints(schema: Schema, constraints: dict[str, Any]) -> None:
    """State on `schema` the constraints given that it does not state yet: Litestar drops those of
    optional fields and parameters (`str | None` with a pattern is documented as any string)."""
    for name, value in constraints.items():
        keyword = _KEYWORDS.get(name)
        if keyword is not None and value is not None and getattr(schema, keyword) is None:
            setattr(schema, keyword, value)


def parameter_constraints(handler: HTTPRouteHandler) -> dict[str, dict[str, Any]]:
    """The constraints of the handler's query and path parameters, by the name the schema gives them."""
    found = {}
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if isinstance(kwarg, ParameterKwarg) and not (kwarg.header or kwarg.cookie):
            found[kwarg.name or name] = {key: getattr(kwarg, key, None) for key in _KEYWORDS}
    return found


def documented_operation(headers: tuple[str, ...], constraints: dict[str, dict[str, Any]]) -> type[Operation]:
    """An OpenAPI Operation class whose parameters state their `constraints` and the text rule, with
    `headers` (of api/conditions.py) declared besides the parameters Litestar finds."""
    declared = [DECLARED_HEADERS[name] for name in headers]

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *declared]
            for parameter in self.parameters:
                if isinstance(parameter, Parameter) and parameter.param_in != "header":
                    if isinstance(parameter.schema, Schema):
                        restore_constraints(parameter.schema, constraints.get(parameter.name, {}))
                    state_text_rule(parameter.schema)

    return DocumentedOperation
