"""Trusted documents compiled once into an execution plan (issue 12, the viewer).

graphql-core executes every request by walking the document against the schema: for each field
of each object it collects the sub-selections, looks the field up, builds a resolve-info record,
checks the return type's kind (non-null, list, leaf, abstract, object) and dispatches on it. For
a document known at start (gateway/documents/*.graphql, gateway/persisted.py) all of that
depends only on the document, so it is done once: the first execution of a trusted document
compiles a plan (the collected fields of every object type it can reach, each with its field
definition, its resolver, and a completion function specialised for its return type) and every
later execution only runs resolvers and serialises:

- a field without a resolver of its own (Strawberry's "basic" field) is read with `getattr`, no
  resolve-info built;
- a resolver that needs one gets graphql-core's own resolve-info (`build_resolve_info`), with
  the arguments coerced by graphql-core's `get_argument_values` on every request;
- leaves are serialised by their type's `coerce_output_value`, abstract types resolved by their
  own `resolve_type`, and errors located and propagated by graphql-core's `handle_field_error`,
  so data, errors (message, locations, path) and nulls are the ones graphql-core gives.

Everything else goes the generic way: any other document, a trusted one that uses directives
(@skip/@include depend on variables), mutations, an executor with field middleware, and any
case a completion function does not specialise (async iterables, `is_type_of` checks, an
awaitable `resolve_type`), which falls back to graphql-core's `complete_value` for that value.
tests/test_plan.py proves both paths give the same JSON for every trusted document, for fuzzed
variables, and for a schema whose resolvers fail, return nulls and awaitables at random."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from math import isfinite
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DocumentNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, Visitor
from graphql.pyutils import Path, gather_with_cancel, inspect
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.inputs import CompiledVariables

DEFINITION_BACKREF = "strawberry-definition"
# Completed values of these types are never awaitable: checked inline before calling the
# executor's is_awaitable (a function call per field and list item otherwise).
_SYNC: frozenset[type] = frozenset({type(None), bool, int, float, str, list, dict})
# complete(executor, path, result) -> completed value (or an awaitable of it); may raise.
Complete = Callable[["PlanExecutor", Path, Any], Any]


@dataclass(slots=True)
class FieldPlan:
    name: str  # response name (alias or field name)
    parent_type: GraphQLObjectType
    parent_name: str
    field_def: GraphQLField
    details: FieldDetailsList
    nodes: list[Any]
    return_type: GraphQLOutputType
    resolve: Callable[..., Any]
    attr: str | None  # a basic field: read this attribute, nothing else
    has_args: bool
    complete: Complete
    # A basic field of a leaf type (or a list of one): maps a read value straight to its answer,
    # or to MISS when the value needs the full path (read inline by run_fields: no path, no
    # completion call); None for any other field.
    fast: Callable[[Any], Any] | None = None


class TrustedPlans:
    """The trusted documents' texts and, once executed, their plans."""

    def __init__(self) -> None:
        self.texts: set[str] = set()
        self.enabled = True  # tests turn it off to run the generic path on the same app
        self.plans: dict[tuple[str, str | None], tuple[FieldPlan, ...] | None] = {}
        self.runs = 0  # executions through a plan (tests, metrics)
        # Per trusted document and operation name: its variables' compiled coercion and the
        # document without variable definitions (gateway/inputs.py, PlanExecutor.build).
        self.inputs: dict[tuple[str, str | None], CompiledInputs | None] = {}
        self.coerced = 0  # executions whose variables the compiled coercion built (tests)

    def trust(self, text: str) -> None:
        self.texts.add(text)

    def compiled_inputs(
        self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
    ) -> CompiledInputs | None:
        if not self.enabled or document.loc is None or document.loc.source.body not in self.texts:
            return None
        key = (document.loc.source.body, operation_name)
        if key not in self.inputs:
            self.inputs[key] = CompiledInputs.compile(schema, document, operation_name)
        return self.inputs[key]


@dataclass(frozen=True, slots=True)
class CompiledInputs:
    """A trusted operation with variables: their compiled coercion, and the same document with
    the operation's variable definitions left out (graphql-core then coerces nothing)."""

    operation: OperationDefinitionNode
    bare: DocumentNode
    variables: CompiledVariables

    @classmethod
    def compile(
        cls, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
    ) -> CompiledInputs | None:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or not operations[0].variable_definitions:
            return None  # graphql-core picks (or refuses) among several; nothing to coerce
        operation = operations[0]
        if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
            return None
        variables = CompiledVariables.compile(schema, operation.variable_definitions or ())
        if variables is None:
            return None
        bare_operation = replace(operation, variable_definitions=())
        definitions = tuple(bare_operation if d is operation else d for d in document.definitions)
        return cls(operation, replace(document, definitions=definitions), variables)


class _HasDirectives(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_args: Any) -> None:
        self.found = True


def _uses_directives(definitions: Iterable[Any]) -> bool:
    visitor = _HasDirectives()
    for definition in definitions:
        visit(definition, visitor)
    return visitor.found


class _Compiler:
    def __init__(self, ex: PlanExecutor) -> None:
        self.ex = ex
        self.objects: dict[tuple[str, int], tuple[FieldPlan, ...]] = {}

    def fields(
        self, parent: GraphQLObjectType, grouped: dict[str, FieldDetailsList]
    ) -> tuple[FieldPlan, ...]:
        plans = []
        for name, details in grouped.items():
            node = details[0].node
            field_def = self.ex.schema.get_field(parent, node.name.value)
            if field_def is None:  # not executed by graphql-core either (validated documents never)
                continue
            resolve = field_def.resolve or self.ex.field_resolver
            attr = None
            definition = (field_def.extensions or {}).get(DEFINITION_BACKREF)
            if (
                getattr(resolve, "_is_default", False)
                and definition is not None
                and definition.is_basic_field
                and definition.default_resolver is getattr
            ):
                attr = definition.python_name
            plan = FieldPlan(
                name=name,
                parent_type=parent,
                parent_name=parent.name,
                field_def=field_def,
                details=details,
                nodes=[d.node for d in details],
                return_type=field_def.type,
                resolve=resolve,
                attr=attr,
                has_args=bool(field_def.args or node.arguments),
                complete=_never,
            )
            plan.complete = self.completer(field_def.type, plan)
            if attr is not None:
                plan.fast = _fast_read(field_def.type)
            plans.append(plan)
        return tuple(plans)

    def subfields(self, object_type: GraphQLObjectType, fp: FieldPlan) -> tuple[FieldPlan, ...]:
        key = (object_type.name, id(fp.details))
        if key not in self.objects:
            self.objects[key] = ()  # recursion guard (documents are finite; types may recurse)
            collected = collect_subfields(
                self.ex.schema,
                self.ex.fragments,
                self.ex.variable_values,
                self.ex.operation,
                object_type,
                fp.details,
                self.ex.hide_suggestions,
            )
            self.objects[key] = self.fields(object_type, collected.grouped_field_set)
        return self.objects[key]

    def completer(self, rtype: GraphQLOutputType, fp: FieldPlan) -> Complete:
        if is_non_null_type(rtype):
            assert isinstance(rtype, GraphQLNonNull)
            where = f"{fp.parent_name}.{fp.nodes[0].name.value}"
            if is_leaf_type(rtype.of_type):  # the common case, one call: a value that is its own
                return _non_null_leaf(rtype.of_type, _non_null(_leaf(rtype.of_type), where))
            return _non_null(self.completer(rtype.of_type, fp), where)
        if is_list_type(rtype):
            assert isinstance(rtype, GraphQLList)
            return _list(rtype, self.completer(rtype.of_type, fp), fp)
        if is_leaf_type(rtype):
            return _leaf(rtype)
        if is_abstract_type(rtype):
            possible = {t.name: t for t in self.ex.schema.get_possible_types(rtype)}
            plans = {name: self.subfields(t, fp) for name, t in possible.items() if not t.is_type_of}
            return _abstract(rtype, plans, fp)
        if is_object_type(rtype):
            assert isinstance(rtype, GraphQLObjectType)
            if rtype.is_type_of:
                return _generic(rtype, fp)
            return _object(self.subfields(rtype, fp))
        return _generic(rtype, fp)


def _never(_ex: PlanExecutor, _path: Path, _result: Any) -> Any:  # pragma: no cover - replaced at once
    raise AssertionError("plan not compiled")


def _non_null(inner: Complete, where: str) -> Complete:
    message = f"Cannot return null for non-nullable field {where}."

    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        completed = inner(ex, path, result)
        if completed is None:
            raise TypeError(message)
        return completed

    return complete


def _non_null_leaf(rtype: GraphQLLeafType, checked: Complete) -> Complete:
    """A non-null leaf: a value that needs no call (`_leaf_value`, never null) is answered at
    once; anything else goes through the non-null check and the leaf's completion."""
    fast = _leaf_value(rtype)
    if fast is None:
        return checked

    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        answer = fast(result)
        return checked(ex, path, result) if answer is MISS else answer

    return complete


MISS: Any = object()  # a fast read that does not apply: take the full path


def _is_builtin_scalar(rtype: Any) -> bool:
    return any(rtype is t for t in (GraphQLString, GraphQLID, GraphQLBoolean, GraphQLInt, GraphQLFloat))


def _leaf_value(rtype: Any) -> Callable[[Any], Any] | None:
    """A non-null leaf's answer for a value that needs no call: a built-in scalar's value that is
    its own serialisation, a Strawberry enum member's name; MISS otherwise."""
    if _is_builtin_scalar(rtype):
        plain = _passthrough(rtype)
        return lambda v: v if plain(v) else MISS
    names = _enum_names(rtype) if is_leaf_type(rtype) else {}
    if names:
        enum_type = rtype.wrapped_cls

        def member(v: Any) -> Any:
            return names.get(id(v), MISS) if type(v) is enum_type else MISS

        return member
    return None


def _fast_read(rtype: GraphQLOutputType) -> Callable[[Any], Any] | None:
    """For a basic field of type `rtype`: a leaf (nullable or not) or a list of non-null leaves
    (nullable or not), answered from the value read when every part needs no call. None, null
    where the type allows it, goes through as null; everything else is MISS."""
    nullable = not isinstance(rtype, GraphQLNonNull)
    inner: Any = rtype.of_type if isinstance(rtype, GraphQLNonNull) else rtype
    if isinstance(inner, GraphQLList):
        if not isinstance(inner.of_type, GraphQLNonNull):
            return None
        item = _leaf_value(inner.of_type.of_type)
        if item is None:
            return None

        def items(v: Any) -> Any:
            if type(v) is list or type(v) is tuple:
                out = [item(x) for x in v]
                return MISS if MISS in out else out
            return None if v is None and nullable else MISS

        return items
    leaf = _leaf_value(inner)
    if leaf is None:
        return None
    if nullable:
        return lambda v: None if v is None else leaf(v)
    return leaf


def _passthrough(rtype: GraphQLLeafType) -> Callable[[Any], bool]:
    """For the built-in scalars: whether a value is already its own serialisation (the type's
    `coerce_output_value` would return it unchanged), so the call can be skipped. Anything else
    (another type, an Int out of 32 bits, a non-finite Float) takes the type's own path."""
    if rtype is GraphQLString or rtype is GraphQLID:
        return lambda v: type(v) is str
    if rtype is GraphQLBoolean:
        return lambda v: type(v) is bool
    if rtype is GraphQLInt:
        return lambda v: type(v) is int and GRAPHQL_MIN_INT <= v <= GRAPHQL_MAX_INT
    if rtype is GraphQLFloat:
        return lambda v: type(v) is float and isfinite(v)
    return lambda _v: False


def _enum_names(rtype: GraphQLLeafType) -> dict[int, str]:
    """A Strawberry enum's serialisation, by member identity (members are singletons):
    `coerce_output_value` scans every value for the one equal to the member's; the first
    match per member is the name it returns."""
    wrapped = getattr(rtype, "wrapped_cls", None)
    values = getattr(rtype, "values", None)
    if wrapped is None or values is None or not isinstance(wrapped, type) or not issubclass(wrapped, Enum):
        return {}
    names: dict[int, str] = {}
    for member in wrapped:
        for name, value in values.items():
            if member.value == value.value:
                names[id(member)] = name
                break
    return names


def _leaf(rtype: GraphQLLeafType) -> Complete:
    coerce = rtype.coerce_output_value
    fast = _leaf_value(rtype) or (lambda _v: MISS)

    def complete(_ex: PlanExecutor, _path: Path, result: Any) -> Any:
        answer = fast(result)
        if answer is not MISS:
            return answer
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        coerced = coerce(result)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(rtype)}.coerce_output_value({inspect(result)})` to return"
                f" non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    return complete


def _object(fields: tuple[FieldPlan, ...]) -> Complete:
    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        return ex.run_fields(fields, result, path)

    return complete


def _generic(rtype: GraphQLOutputType, fp: FieldPlan) -> Complete:
    """graphql-core's own completion for this value (cases the plan does not specialise)."""

    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        info = ex.build_resolve_info(fp.field_def, fp.nodes, fp.parent_type, _field_path(path))
        return ex.complete_value(rtype, fp.details, info, path, result, None)

    return complete


def _field_path(path: Path) -> Path:
    """The field's own path (list items add integer keys below it)."""
    while isinstance(path.key, int) and path.prev is not None:
        path = path.prev
    return path


def _abstract(rtype: GraphQLAbstractType, plans: dict[str, tuple[FieldPlan, ...]], fp: FieldPlan) -> Complete:
    generic = _generic(rtype, fp)

    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        resolve_type = rtype.resolve_type or ex.type_resolver
        info = ex.build_resolve_info(fp.field_def, fp.nodes, fp.parent_type, _field_path(path))
        name = resolve_type(result, info, rtype)
        if ex.is_awaitable(name) or not isinstance(name, str) or name not in plans:
            return generic(ex, path, result)  # graphql-core resolves and reports it
        runtime = ex.ensure_valid_runtime_type(name, rtype, fp.details, info, result)
        return ex.run_fields(plans[runtime.name], result, path)

    return complete


def _list(rtype: GraphQLList[Any], item: Complete, fp: FieldPlan) -> Complete:
    item_type = rtype.of_type
    generic = _generic(rtype, fp)

    def complete(ex: PlanExecutor, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            return None
        if not isinstance(result, list | tuple):
            return generic(ex, path, result)  # iterables, async iterables, errors: graphql-core
        return ex.run_list(item, item_type, fp, path, result)

    return complete


class PlanExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, running trusted queries from their plan."""

    trusted: TrustedPlans = TrustedPlans()

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """graphql-core's build; for a trusted document whose variables the compiled coercion
        accepts, built from the document without variable definitions and then given the
        operation and its coerced variables (graphql-core's own coercion otherwise)."""
        compiled = cls.trusted.compiled_inputs(schema, document, operation_name)
        values = compiled.variables.coerce(raw_variable_values or {}) if compiled is not None else None
        if compiled is not None and values is not None:
            executor = super().build(
                schema, compiled.bare, root_value, context_value, None, operation_name, *args, **kwargs
            )
            if not isinstance(executor, list):
                executor.operation = compiled.operation
                executor.variable_values = values
                cls.trusted.coerced += 1
                return executor
        return super().build(
            schema, document, root_value, context_value, raw_variable_values, operation_name, *args, **kwargs
        )

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        plan = self._plan(root_type, grouped_field_set) if not serially else None
        if plan is None:
            return super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )
        self.trusted.runs += 1
        return self.run_fields(plan, root_value, None)

    def _plan(self, root_type: GraphQLObjectType, grouped: Any) -> tuple[FieldPlan, ...] | None:
        trusted = self.trusted
        operation: OperationDefinitionNode = self.operation
        if not trusted.enabled or operation.operation != OperationType.QUERY or operation.loc is None:
            return None
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return None
        text = operation.loc.source.body
        if text not in trusted.texts:
            return None
        key = (text, operation.name.value if operation.name else None)
        if key not in trusted.plans:
            definitions = [operation, *(f.definition for f in self.fragments.values())]
            uses_directives = _uses_directives(definitions)
            trusted.plans[key] = None if uses_directives else _Compiler(self).fields(root_type, grouped)
        return trusted.plans[key]

    def run_fields(self, fields: tuple[FieldPlan, ...], source: Any, path: Path | None) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        pending: list[str] = []
        try:
            for fp in fields:
                fast = fp.fast
                if fast is not None:  # a basic leaf field: its value is usually the answer
                    try:
                        value = getattr(source, fp.attr)  # type: ignore[arg-type]
                    except Exception as raw_error:
                        self.handle_field_error(
                            raw_error, fp.return_type, fp.details, Path(path, fp.name, fp.parent_name)
                        )
                        results[fp.name] = None
                        continue
                    answer = fast(value)
                    if answer is not MISS:
                        results[fp.name] = answer
                        continue
                    result = self.run_field(fp, value, Path(path, fp.name, fp.parent_name), read=True)
                else:
                    result = self.run_field(fp, source, Path(path, fp.name, fp.parent_name))
                results[fp.name] = result
                if type(result) not in _SYNC and is_awaitable(result):
                    pending.append(fp.name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def get_results() -> dict[str, Any]:
            if len(pending) == 1:
                results[pending[0]] = await results[pending[0]]
            else:
                awaited = await gather_with_cancel(*(results[name] for name in pending))
                results.update(zip(pending, awaited, strict=True))
            return results

        return get_results()

    def run_field(self, fp: FieldPlan, source: Any, path: Path, read: bool = False) -> Any:
        """`read`: `source` is the field's value, already read (run_fields' scalar path)."""
        try:
            if read:
                result = source
            elif fp.attr is not None:
                result = getattr(source, fp.attr)
            else:
                info = self.build_resolve_info(fp.field_def, fp.nodes, fp.parent_type, path)
                first = fp.details[0]
                args = (
                    get_argument_values(
                        fp.field_def,
                        first.node,
                        self.variable_values,
                        first.fragment_variable_values,
                        self.hide_suggestions,
                    )
                    if fp.has_args
                    else {}
                )
                result = fp.resolve(source, info, **args)
            if type(result) not in _SYNC and self.is_awaitable(result):
                return self._await_field(fp, path, result)
            completed = fp.complete(self, path, result)
            if type(completed) not in _SYNC and self.is_awaitable(completed):
                return self._await_completed(fp.return_type, fp.details, path, completed)
        except Exception as raw_error:
            self.handle_field_error(raw_error, fp.return_type, fp.details, path)
            return None
        return completed

    async def _await_field(self, fp: FieldPlan, path: Path, result: Awaitable[Any]) -> Any:
        try:
            resolved = await self.with_abort_signal(result)
            completed = fp.complete(self, path, resolved)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, fp.return_type, fp.details, path)
            completed = None
        return completed

    async def _await_completed(
        self, rtype: GraphQLOutputType, details: FieldDetailsList, path: Path, completed: Awaitable[Any]
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, rtype, details, path)
            return None

    def run_list(
        self, item: Complete, item_type: GraphQLOutputType, fp: FieldPlan, path: Path, items: Iterable[Any]
    ) -> Any:
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        pending: list[int] = []
        try:
            for index, value in enumerate(items):
                item_path = path.add_key(index, None)
                if is_awaitable(value):
                    completed_results.append(self._await_item(item, item_type, fp, item_path, value))
                    pending.append(index)
                    continue
                try:
                    completed = item(self, item_path, value)
                    if type(completed) not in _SYNC and is_awaitable(completed):
                        completed_results.append(
                            self._await_completed(item_type, fp.details, item_path, completed)
                        )
                        pending.append(index)
                    else:
                        completed_results.append(completed)
                except Exception as raw_error:
                    # raises again for a non-null item: the list is nulled above
                    self.handle_field_error(raw_error, item_type, fp.details, item_path)
                    completed_results.append(None)
        except Exception:
            if pending:
                self.settle_in_background([completed_results[i] for i in pending])
            raise
        if not pending:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(pending) == 1:
                completed_results[pending[0]] = await completed_results[pending[0]]
            else:
                awaited = await gather_with_cancel(*(completed_results[i] for i in pending))
                for index, value in zip(pending, awaited, strict=True):
                    completed_results[index] = value
            return completed_results

        return get_completed_results()

    async def _await_item(
        self, item: Complete, item_type: GraphQLOutputType, fp: FieldPlan, path: Path, value: Awaitable[Any]
    ) -> Any:
        try:
            resolved = await self.with_abort_signal(value)
            completed = item(self, path, resolved)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, fp.details, path)
            return None
        return completed


def plan_executor(trusted: TrustedPlans) -> type[PlanExecutor]:
    """An executor class bound to one schema's trusted documents."""
    return type("TrustedPlanExecutor", (PlanExecutor,), {"trusted": trusted})
