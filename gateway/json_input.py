"""Strict JSON for what clients send: POST bodies, GET `variables` and `extensions`, and the
variables of persisted documents.

A malformed input is a 400 with a message saying what is wrong, never a 500: bytes that are not
UTF-8, lone surrogate escapes, numbers out of range (orjson refuses them), nesting deeper than
`max_json_depth` (orjson alone allows 1,024 levels, and deep values then overflow the stack of
whatever walks them), and a body that is not a JSON object (`null`, a string, a number)."""

from __future__ import annotations

from typing import Any

import orjson


class BadJson(ValueError):
    """`message` is safe to show to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether arrays/objects in a decoded value nest deeper than max_depth: one level at a time,
    no recursion to overflow (about as fast as orjson decoding the same value)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    return False


def loads(data: bytes | str, max_depth: int, what: str = "the request body") -> Any:
    """Decode `data`, refusing what the module doc lists; any JSON value at the top."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadJson(f"{what} is not valid JSON (UTF-8): {exc}") from None
    if too_deep(value, max_depth):
        raise BadJson(f"{what} nests arrays or objects more than {max_depth} levels deep")
    return value


def loads_body(data: bytes | str, max_depth: int) -> Any:
    """Like `loads`, for a GraphQL POST body: an object (or a list, which the GraphQL view
    refuses with its own message while batching is off)."""
    value = loads(data, max_depth)
    if not isinstance(value, dict | list):
        raise BadJson("the request body must be a JSON object")
    return value
