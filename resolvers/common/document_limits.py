"""What every GraphQL document must pass before it is validated, and the validation itself: the
gateway's documents and the ones analysts hand to `estimateCost` go through the same checks.

Validation is the expensive step for a small document, and one of its rules is quadratic:
graphql-core's OverlappingFieldsCanBeMergedRule compares every pair of fields that answer the
same response key in a selection set (fragments merged in). 490 copies of `whoami { role }`
fit the token limit and the cost limit and take seconds to validate. So before validation runs
`check_shape` walks the parsed document once, with a fixed work budget, and refuses:

- more selections than `max_selections`, counted with each fragment expanded where it is used
  (a fragment spread twice counts twice; sizes are memoised per fragment, so a chain of
  fragments that doubles at each step is priced without being expanded);
- more than `max_field_duplicates` repeated fields in the whole document: a field repeats when
  another field answers the same response key in its selection set, with fragments and inline
  fragments merged in as validation merges them (so `viewer { id } viewer { id }` repeats two:
  `viewer`, and `id` in the merged selection below it). Validation compares every pair of such
  fields and their subtrees, about 30 µs a pair on the benchmark machine, so 31 copies of one
  field (465 pairs) stay near the cost of validating a few hundred distinct fields;
- any walk that needs more than `WORK_FACTOR * max_selections` steps.

The walk's work is bounded by the budget whatever the document, and a refused document is
never validated. `parse_options` bounds the parser before that (tokens and characters).

Strings: PostgreSQL text cannot hold the NUL character, and no input of this API means one, so
a NUL is refused wherever a string enters, in document literals (`NoNulInStrings`, a validation
rule) and in variables (`nul_in_variables`), before any resolver sees it. (graphql-core refuses
a redefinition of the built-in `String` scalar, so the check cannot live in an override of it.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    specified_rules,
)
from graphql import validate as graphql_validate

from resolvers.common.limits import LimitsConfig

WORK_FACTOR = 4
TOO_COMPLEX = "DOCUMENT_TOO_COMPLEX"
BAD_USER_INPUT = "BAD_USER_INPUT"
NUL_MESSAGE = "strings cannot contain the NUL character (U+0000)"


def parse_options(limits: LimitsConfig) -> dict[str, Any]:
    """graphql-core's parser stops at these: tokens, and characters (long string literals)."""
    return {"max_tokens": limits.max_tokens, "max_source_length": limits.max_document_chars}


@dataclass(slots=True)
class Shape:
    """What the walk found, and how many steps it took (`work`, never above the budget)."""

    selections: int = 0
    repeats: int = 0
    widest_key: str | None = None
    widest: int = 0
    work: int = 0
    refusal: GraphQLError | None = None


class _OverBudget(Exception):
    pass


class _Walk:
    def __init__(self, document: DocumentNode, limits: LimitsConfig) -> None:
        self.limits = limits
        self.budget = WORK_FACTOR * limits.max_selections
        self.shape = Shape()
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.sizes: dict[str, int] = {}
        self.definitions = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
        ]

    def step(self) -> None:
        self.shape.work += 1
        if self.shape.work > self.budget:
            raise _OverBudget

    def size(self, selection_set: SelectionSetNode, open_fragments: frozenset[str]) -> int:
        """Selections with fragments expanded, memoised per fragment (cycles count 0: validation
        reports them)."""
        total = 0
        pending = [selection_set]
        while pending:
            for selection in pending.pop().selections:
                self.step()
                if isinstance(selection, FieldNode):
                    total += 1
                    if selection.selection_set is not None:
                        pending.append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    total += self.fragment_size(selection.name.value, open_fragments)
            if total > self.limits.max_selections:
                return total  # enough to refuse; no need to count the rest
        return total

    def fragment_size(self, name: str, open_fragments: frozenset[str]) -> int:
        if name in self.sizes:
            return self.sizes[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in open_fragments:
            return 0
        size = self.size(fragment.selection_set, open_fragments | {name})
        self.sizes[name] = size
        return size

    def widest(self, roots: Iterable[SelectionSetNode]) -> None:
        """Fields per response key in each selection set, merged as validation merges them."""
        groups: list[list[SelectionSetNode]] = [list(roots)]
        while groups:
            by_key: dict[str, list[FieldNode]] = {}
            spread: set[str] = set()
            pending = groups.pop()
            while pending:
                for selection in pending.pop().selections:
                    self.step()
                    if isinstance(selection, FieldNode):
                        key = (selection.alias or selection.name).value
                        by_key.setdefault(key, []).append(selection)
                    elif isinstance(selection, InlineFragmentNode):
                        pending.append(selection.selection_set)
                    elif isinstance(selection, FragmentSpreadNode):
                        name = selection.name.value
                        fragment = self.fragments.get(name)
                        if fragment is not None and name not in spread:
                            spread.add(name)
                            pending.append(fragment.selection_set)
            for key, fields in by_key.items():
                if len(fields) > self.shape.widest:
                    self.shape.widest, self.shape.widest_key = len(fields), key
                self.shape.repeats += len(fields) - 1
                if self.shape.repeats > self.limits.max_field_duplicates:
                    return
                children = [f.selection_set for f in fields if f.selection_set is not None]
                if children:
                    groups.append(children)

    def run(self) -> Shape:
        shape, limits = self.shape, self.limits
        try:
            for definition in self.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    size = self.size(definition.selection_set, frozenset())
                else:
                    size = self.fragment_size(definition.name.value, frozenset())
                shape.selections = max(shape.selections, size)
                if size > limits.max_selections:
                    shape.refusal = _too_complex(
                        f"the document selects more than {limits.max_selections} fields "
                        "(fragments counted where they are used); ask for fewer",
                        "max_selections",
                        limits.max_selections,
                    )
                    return shape
            for definition in self.definitions:
                self.widest([definition.selection_set])
                if shape.repeats > limits.max_field_duplicates:
                    shape.refusal = _too_complex(
                        f"the document repeats fields more than {limits.max_field_duplicates} times "
                        f"(fields answering the same response key in one selection set, e.g. "
                        f"'{shape.widest_key}' {shape.widest} times); send each field once",
                        "max_field_duplicates",
                        limits.max_field_duplicates,
                    )
                    return shape
        except _OverBudget:
            shape.refusal = _too_complex(
                "the document is too complex to check; send a smaller one",
                "max_selections",
                limits.max_selections,
            )
        return shape


def _too_complex(message: str, limit: str, value: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TOO_COMPLEX, "limit": limit, "max": value})


def check_shape(document: DocumentNode, limits: LimitsConfig) -> Shape:
    """The cheap walk described in the module doc; `shape.refusal` is set when refused."""
    return _Walk(document, limits).run()


class NoNulInStrings(ASTValidationRule):
    """String literals anywhere in the document (arguments, input objects, JSON, defaults)."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError(NUL_MESSAGE, node, extensions={"code": BAD_USER_INPUT}))


def _nul_path(value: Any) -> str | None:
    """The path of the first string holding a NUL inside a JSON value, or None."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return f"{path}.{key!r}" if path else repr(key)
                pending.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def _may_hold_nul(values: list[Any]) -> bool:
    """False when no string inside can hold a NUL: orjson writes one as \\u0000, and serialising
    is much cheaper than walking (a batch of 1,000 events: ~0.2 ms against ~1.8 ms)."""
    try:
        return b"\\u0000" in orjson.dumps(values)
    except TypeError:  # values from in-process callers that are not JSON: walk them
        return True


def nul_in_variables(document: DocumentNode, variables: Mapping[str, Any] | None) -> GraphQLError | None:
    """Variables the document declares, checked for NUL anywhere inside them."""
    if not variables or not _may_hold_nul(list(variables.values())):
        return None
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for declared in definition.variable_definitions or ():
            name = declared.variable.name.value
            if name not in variables:
                continue
            path = _nul_path(variables[name])
            if path is not None:  # said as graphql-core says where a variable is invalid
                where = name + (path if path.startswith("[") or not path else "." + path)
                return GraphQLError(
                    f"Variable '${name}' got invalid value at '{where}'; {NUL_MESSAGE}.",
                    declared,
                    extensions={"code": BAD_USER_INPUT},
                )
    return None


def validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    limits: LimitsConfig,
    rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules),
    hide_suggestions: bool = False,
) -> list[GraphQLError]:
    """The shape check, then validation with NUL literals refused and, when `hide_suggestions`
    (production), no "Did you mean …" in any message. A refused shape is never validated."""
    shape = check_shape(document, limits)
    if shape.refusal is not None:
        return [shape.refusal]
    return graphql_validate(schema, document, (*rules, NoNulInStrings), hide_suggestions=hide_suggestions)
