"""Segment rules: JSON condition trees, validated at save time and evaluated (pure) by offers and
by simulateSegment alike, so a simulation shows exactly what targeting decided.

A node is {"and": [nodes]}, {"or": [nodes]}, {"not": node} or a condition
{"attr": name, "op": eq|ne|lt|lte|gt|gte|in, "value": v} over a declared attribute. A condition on
an attribute that is not available (no consent for its purpose, or hidden) is false."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.purposes import OFFERS, Source
from privacy.sensitive import names_sensitive
from resolvers.common.errors import FieldError
from resolvers.model.attributes import ATTRIBUTES, Attribute
from resolvers.model.reference import ReferenceKind
from sql import load_queries

Q = load_queries()

MAX_DEPTH = 5
MAX_NODES = 50
OPS = {
    "int": {"eq", "ne", "lt", "lte", "gt", "gte", "in"},
    "enum": {"eq", "ne", "in"},
    "str": {"eq", "ne", "in"},
    "str_set": {"eq", "ne", "in"},  # contains / does not contain / contains any of
}


@dataclass(frozen=True)
class SegmentVersion:
    segment_id: int
    name: str
    version: int
    rule: dict[str, Any]


async def _live(pool: asyncpg.Pool) -> dict[int, SegmentVersion]:
    rows = await pool.fetch(Q.current_segments)
    return {
        r["segment_id"]: SegmentVersion(r["segment_id"], r["name"], r["current_version"], r["rule"])
        for r in rows
    }


# Live segments at their current versions: public marketer configuration, cached per worker.
LIVE_SEGMENTS = ReferenceKind[dict[int, SegmentVersion]]("segments", _live)


def segment_match(
    seg: SegmentVersion, attrs: dict[str, Any], hidden: frozenset[str], consent: ConsentSnapshot
) -> tuple[bool, list[ConditionResult]]:
    """The one evaluator behind offers, inferences and the membership rollup. Segment membership
    is an inference: without consent for it nothing is known (every condition fails); a hidden
    segment never matches."""
    if not consent.allows(OFFERS, Source.DERIVED):
        attrs = {}
    passed, conditions = evaluate(seg.rule, attrs)
    # A rule over data we may not use never matches (not even through `not`), so consent can only
    # ever remove a user from an audience, never add them to one.
    complete = all(a in attrs for a in referenced_attributes(seg.rule))
    return passed and complete and f"segment:{seg.segment_id}" not in hidden, conditions


@dataclass(frozen=True, slots=True)
class ConditionResult:
    path: str
    attribute: str
    operator: str
    passed: bool


def validate_rule(rule: Any, extra_sensitive: frozenset[str] = frozenset()) -> list[FieldError]:
    """Every problem with `rule`, each with its path (`rule.and[1].value`); [] when valid."""
    errors: list[FieldError] = []
    count = [0]
    _check(rule, "rule", 1, errors, count, extra_sensitive)
    if count[0] > MAX_NODES:
        errors.append(FieldError(field="rule", message=f"too many nodes ({count[0]} > {MAX_NODES})"))
    return errors


def _check(
    node: Any, path: str, depth: int, errors: list[FieldError], count: list[int], extra: frozenset[str]
) -> None:
    count[0] += 1
    if depth > MAX_DEPTH:
        errors.append(FieldError(field=path, message=f"nested deeper than {MAX_DEPTH} levels"))
        return
    if not isinstance(node, dict) or not node:
        errors.append(FieldError(field=path, message="must be an object: and / or / not / condition"))
        return
    if set(node) <= {"and", "or"} and len(node) == 1:
        key = next(iter(node))
        children = node[key]
        if not isinstance(children, list) or not children:
            errors.append(FieldError(field=f"{path}.{key}", message="must be a non-empty list"))
            return
        for i, child in enumerate(children):
            _check(child, f"{path}.{key}[{i}]", depth + 1, errors, count, extra)
        return
    if set(node) == {"not"}:
        _check(node["not"], f"{path}.not", depth + 1, errors, count, extra)
        return
    if set(node) != {"attr", "op", "value"}:
        errors.append(FieldError(field=path, message="a condition has exactly attr, op and value"))
        return
    _check_condition(node, path, errors, extra)


def _check_condition(
    node: dict[str, Any], path: str, errors: list[FieldError], extra: frozenset[str]
) -> None:
    name, op, value = node["attr"], node["op"], node["value"]
    attr = ATTRIBUTES.get(name) if isinstance(name, str) else None
    if attr is None:
        errors.append(FieldError(field=f"{path}.attr", message=f"unknown attribute {name!r}"))
        return
    if attr.sensitive:
        errors.append(
            FieldError(
                field=f"{path}.attr",
                message=f"{name} is a sensitive category ({attr.data_category}), never a targeting input",
            )
        )
        return
    if op not in OPS[attr.type]:
        errors.append(
            FieldError(
                field=f"{path}.op", message=f"{op!r} is not allowed on {name}; use {sorted(OPS[attr.type])}"
            )
        )
        return
    values = value if op == "in" else [value]
    if op == "in" and (not isinstance(value, list) or not value):
        errors.append(FieldError(field=f"{path}.value", message="'in' needs a non-empty list"))
        return
    for v in values:
        problem = _value_problem(attr, v, extra)
        if problem:
            errors.append(FieldError(field=f"{path}.value", message=problem))
            return


def _value_problem(attr: Attribute, v: Any, extra: frozenset[str]) -> str | None:
    if attr.type == "int":
        return None if isinstance(v, int) and not isinstance(v, bool) else f"{attr.name} needs whole numbers"
    if not isinstance(v, str) or not v.strip():
        return f"{attr.name} needs non-empty strings"
    if names_sensitive(v, extra):
        return f"{v!r} names a sensitive category, which is never a targeting input"
    if attr.type == "enum" and v not in attr.values:
        return f"{v!r} is not one of {sorted(attr.values)}"
    return None


def referenced_attributes(rule: Any) -> list[str]:
    if "attr" in rule:
        return [rule["attr"]]
    if "not" in rule:
        return referenced_attributes(rule["not"])
    key = "and" if "and" in rule else "or"
    return [a for child in rule[key] for a in referenced_attributes(child)]


def evaluate(rule: dict[str, Any], attrs: dict[str, Any]) -> tuple[bool, list[ConditionResult]]:
    """Whether `attrs` match `rule`, and every condition's own outcome (all are evaluated, no
    short-circuit, so a simulation lists them all). Missing attributes make conditions false."""
    results: list[ConditionResult] = []
    return _eval(rule, "rule", attrs, results), results


def _eval(node: dict[str, Any], path: str, attrs: dict[str, Any], out: list[ConditionResult]) -> bool:
    if "and" in node:
        return all([_eval(c, f"{path}.and[{i}]", attrs, out) for i, c in enumerate(node["and"])])
    if "or" in node:
        return any([_eval(c, f"{path}.or[{i}]", attrs, out) for i, c in enumerate(node["or"])])
    if "not" in node:
        return not _eval(node["not"], f"{path}.not", attrs, out)
    passed = _compare(attrs.get(node["attr"]), node["op"], node["value"])
    out.append(ConditionResult(path, node["attr"], node["op"], passed))
    return passed


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, frozenset):  # str_set: membership
        if op == "eq":
            return expected in actual
        if op == "ne":
            return expected not in actual
        return bool(actual & set(expected))
    match op:
        case "eq":
            return bool(actual == expected)
        case "ne":
            return bool(actual != expected)
        case "lt":
            return bool(actual < expected)
        case "lte":
            return bool(actual <= expected)
        case "gt":
            return bool(actual > expected)
        case "gte":
            return bool(actual >= expected)
        case "in":
            return actual in expected
    return False
