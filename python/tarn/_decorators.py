"""The decorators ``@tarn.model``, ``@tarn.expectation``, ``@tarn.python`` and ``@tarn.resources``.

Decorating does nothing but validate the arguments and record them: the
function is wrapped in a :class:`TarnFunction` that behaves like the original
(``clean_trips(trips=table)`` runs it) and carries the metadata in
``__tarn__``. The decorators can be stacked in any order; each one finds or
creates the same wrapper.

tarn itself never imports project files to find models: discovery reads the
decorators statically (:mod:`tarn._discover`), with the same validation
(:mod:`tarn._validate`), so both see the same definitions.
"""

from __future__ import annotations

import functools
import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Callable, Dict, List, Optional

from . import _validate
from ._exceptions import MissingInputError
from ._inputs import Model, Parameter

__all__ = ["model", "expectation", "python", "resources", "TarnFunction", "FunctionSpec", "Arguments"]


class FunctionSpec:
    """What the decorators recorded about one function.

    ``kind`` is ``"model"``, ``"expectation"`` or ``None`` (only ``@tarn.python``
    or ``@tarn.resources`` so far). ``inputs`` and ``parameters`` map the
    function's parameter names to their ``tarn.Model`` / ``tarn.Parameter``
    defaults.
    """

    def __init__(self, function: str) -> None:
        self.function = function
        self.kind: Optional[str] = None
        self.name: str = function
        self.materialization_strategy: str = "NONE"
        self.partitioned_by: Optional[List[str]] = None
        self.overwrite_filter: Optional[str] = None
        self.internet_access: bool = False
        self.columns: Optional[List[str]] = None
        self.output_schema: Any = None  # a tarn.TableSchema the output must match
        self.cache_strategy: str = "AUTO"
        self.python: Optional[Dict[str, Any]] = None
        self.resources: Optional[Dict[str, Any]] = None
        self.inputs: Dict[str, Model] = {}
        self.parameters: Dict[str, Parameter] = {}

    def to_dict(self) -> Dict[str, Any]:
        """The same fields, with the same names, as static discovery prints."""
        data: Dict[str, Any] = {"name": self.name, "kind": self.kind, "function": self.function}
        if self.kind == "model":
            data.update(
                materialization_strategy=self.materialization_strategy,
                partitioned_by=self.partitioned_by,
                overwrite_filter=self.overwrite_filter,
                internet_access=self.internet_access,
                columns=self.columns,
            )
            if self.output_schema is not None:
                data["output_schema"] = _describe_schema(self.output_schema)
        data["python"] = self.python
        data["resources"] = self.resources
        data["inputs"] = [
            dict(
                {"param": param, "name": m.name, "columns": m.columns, "filter": m.filter, "ref": m.ref, "batches": m.batches},
                **({"schema": _describe_schema(m.projection_schema)} if m.projection_schema is not None else {}),
            )
            for param, m in self.inputs.items()
        ]
        data["parameters"] = [
            {
                "param": param,
                "name": p.name or param,
                "has_default": p.has_default,
                "default": p.default if p.has_default else None,
            }
            for param, p in self.parameters.items()
        ]
        return data

    def __repr__(self) -> str:
        return f"<tarn FunctionSpec {self.kind or 'function'} {self.name!r}>"


class Arguments:
    """A function's parameter names and defaults, read from its code object.

    (``inspect.signature`` would do, but importing inspect costs ~4 ms of
    worker start-up.) Functions wrapped with ``functools.wraps`` are followed
    through ``__wrapped__`` to the original.
    """

    def __init__(self, func: Any) -> None:
        while hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        code = func.__code__
        names = code.co_varnames
        self.positional_only = names[: code.co_posonlyargcount]
        self.positional = names[: code.co_argcount]
        self.keyword_only = names[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        self.var_keyword = bool(code.co_flags & 0x08)  # CO_VARKEYWORDS
        positional_defaults = func.__defaults__ or ()
        self.defaults = dict(
            zip(self.positional[len(self.positional) - len(positional_defaults) :], positional_defaults)
        )
        self.defaults.update(func.__kwdefaults__ or {})

    def accepts(self, name: str) -> bool:
        """Whether ``name=...`` can be passed as a keyword argument."""
        return self.var_keyword or (
            name not in self.positional_only and (name in self.positional or name in self.keyword_only)
        )

    def given(self, args: tuple, kwargs: dict) -> set:
        """The parameter names a call with ``args`` and ``kwargs`` provides."""
        return set(self.positional[: len(args)]) | set(kwargs)


class TarnFunction:
    """A decorated function: callable like the original, with metadata in ``__tarn__``.

    Calling it directly runs the original function. An input declared with
    ``tarn.Model(...)`` must be passed (there is no table to read outside a
    run), and so must a ``tarn.Parameter`` without a default; a
    ``tarn.Parameter`` with a default is filled in. Anything else is left to
    Python, which raises its usual ``TypeError`` for wrong arguments.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        functools.update_wrapper(self, func)
        self.__tarn__ = FunctionSpec(getattr(func, "__name__", "function"))
        self._arguments = Arguments(func)
        markers = dict(_annotated_markers(func))
        markers.update(self._arguments.defaults)
        annotations = getattr(func, "__annotations__", None) or {}
        for name, marker in markers.items():
            if isinstance(marker, Model):
                if not marker.batches and name in annotations and _validate.wants_batches(annotations[name]):
                    marker = _with_batches(marker)
                self.__tarn__.inputs[name] = marker
            elif isinstance(marker, Parameter):
                self.__tarn__.parameters[name] = marker

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        spec = self.__tarn__
        if not spec.inputs and not spec.parameters:
            return self.__wrapped__(*args, **kwargs)  # type: ignore[attr-defined]
        given = self._arguments.given(args, kwargs)
        for param, source in spec.inputs.items():
            if param not in given:
                raise MissingInputError(
                    f"pass {param}=<pyarrow.Table> when calling {spec.function} directly "
                    f"(in a tarn run it is read from {source.name!r})"
                )
        for param, parameter in spec.parameters.items():
            if param not in given:
                if not parameter.has_default:
                    raise MissingInputError(
                        f"pass {param}=<value> when calling {spec.function} directly "
                        f"(in a tarn run it is the run parameter {parameter.name or param!r})"
                    )
                kwargs[param] = parameter.default
        return self.__wrapped__(*args, **kwargs)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        kind = self.__tarn__.kind or "function"
        return f"<tarn {kind} {self.__tarn__.name!r} ({self.__module__}.{self.__qualname__})>"


def _with_batches(marker: Model) -> Model:
    """A copy of an input marker that asks for batches (its annotation is an iterator of them)."""
    copy = Model.__new__(Model)
    for key in Model.__slots__:
        setattr(copy, key, getattr(marker, key))
    copy.batches = True
    return copy


def _describe_schema(schema: Any) -> Any:
    from ._schema import describe

    return describe(schema)


def _annotated_markers(func: Any) -> Any:
    """(parameter, marker) for parameters annotated ``Annotated[T, tarn.Model(...)]`` or
    ``Annotated[T, tarn.Parameter(...)]`` (string annotations are evaluated in the
    function's module; those that cannot be are left alone, as Python does)."""
    annotations = getattr(func, "__annotations__", None) or {}
    for name, annotation in annotations.items():
        if name == "return":
            continue
        if isinstance(annotation, str):
            if "Model" not in annotation and "Parameter" not in annotation:
                continue
            try:
                annotation = eval(annotation, dict(getattr(func, "__globals__", {})))  # noqa: S307 - the user's own annotation
            except (NameError, AttributeError, SyntaxError, TypeError):  # names defined later or elsewhere: not tarn's
                continue  # (an invalid tarn.Model(...) in it raises its own error, a TarnError)
        for item in getattr(annotation, "__metadata__", ()):
            if isinstance(item, (Model, Parameter)):
                yield name, item
                break


def _wrap(func: Any, decorator: str) -> TarnFunction:
    if isinstance(func, TarnFunction):
        return func
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"@tarn.{decorator} decorates a function (def ...), not {type(func).__name__}")
    return TarnFunction(func)


def _set_kind(wrapper: TarnFunction, kind: str) -> FunctionSpec:
    spec = wrapper.__tarn__
    if spec.kind is not None:
        if spec.kind == kind:
            raise ValueError(f"{spec.function} is decorated with @tarn.{kind} twice")
        raise ValueError(f"{spec.function} cannot be both a tarn {spec.kind} and a tarn {kind}")
    spec.kind = kind
    return spec


def model(
    name: Optional[str] = None,
    *,
    columns: Optional[List[str]] = None,
    materialization_strategy: str = "NONE",
    partitioned_by: Any = None,
    overwrite_filter: Optional[str] = None,
    internet_access: bool = False,
    cache_strategy: str = "AUTO",
    output_schema: Any = None,
) -> Any:
    """Declare a model: a function from input tables to one output table.

    ``name`` (default: the function name) is the output table's name.
    ``columns`` lists the output columns (checked, and put in that order).
    ``output_schema`` (a :class:`tarn.TableSchema`) instead declares the
    output's columns and types: an output that differs fails the step,
    naming every column that does.
    ``materialization_strategy`` is one of NONE (default: kept in memory for
    downstream steps only), REPLACE, APPEND or OVERWRITE_PARTITIONS.
    ``partitioned_by`` is a partition spec string or list ("day(pickup_at)").
    ``internet_access`` lets the function reach the network.
    ``cache_strategy`` AUTO (default) serves the step from tarn's cache when
    its code, environment, parameters and inputs are unchanged; NONE always
    runs it (for non-deterministic steps).

    Usable bare (``@tarn.model``) or called (``@tarn.model(...)``).
    """
    if callable(name):
        return model()(name)
    if output_schema is not None:
        from ._schema import schema_columns

        schema_columns(output_schema, columns, "output_schema", "columns")
    options = _validate.model_options(
        name, columns, materialization_strategy, partitioned_by, overwrite_filter, internet_access, cache_strategy
    )

    def decorate(func: Any) -> TarnFunction:
        wrapper = _wrap(func, "model")
        spec = _set_kind(wrapper, "model")
        spec.name = options["name"] or spec.function
        spec.materialization_strategy = options["materialization_strategy"]
        spec.partitioned_by = options["partitioned_by"]
        spec.overwrite_filter = options["overwrite_filter"]
        spec.internet_access = options["internet_access"]
        spec.columns = options["columns"]
        spec.cache_strategy = options["cache_strategy"]
        spec.output_schema = output_schema
        return wrapper

    return decorate


def expectation(name: Optional[str] = None) -> Any:
    """Declare an expectation: a function over its inputs that returns a bool.

    A falsy result, a failed ``assert`` or a failing ``tarn.expectations``
    result fails the run. Usable bare or called.
    """
    if callable(name):
        return expectation()(name)
    options = _validate.expectation_options(name)

    def decorate(func: Any) -> TarnFunction:
        wrapper = _wrap(func, "expectation")
        spec = _set_kind(wrapper, "expectation")
        spec.name = options["name"] or spec.function
        return wrapper

    return decorate


def python(version: Optional[str] = None, pip: Optional[Dict[str, str]] = None) -> Any:
    """Declare the function's Python environment: interpreter version and pinned packages.

    ``@tarn.python("3.11", pip={"pandas": "2.2.3"})``. Each distinct
    environment is built once and cached.
    """
    if callable(version):
        return python()(version)
    options = _validate.python_options(version, pip)

    def decorate(func: Any) -> TarnFunction:
        wrapper = _wrap(func, "python")
        if wrapper.__tarn__.python is not None:
            raise ValueError(f"{wrapper.__tarn__.function} is decorated with @tarn.python twice")
        wrapper.__tarn__.python = options
        return wrapper

    return decorate


def resources(memory: Any = None, timeout: Optional[float] = None) -> Any:
    """Declare the function's limits: ``memory`` ("4GiB", "512MiB", bytes) and ``timeout`` in seconds."""
    if callable(memory):
        return resources()(memory)
    options = _validate.resources_options(memory, timeout)

    def decorate(func: Any) -> TarnFunction:
        wrapper = _wrap(func, "resources")
        if wrapper.__tarn__.resources is not None:
            raise ValueError(f"{wrapper.__tarn__.function} is decorated with @tarn.resources twice")
        wrapper.__tarn__.resources = options
        return wrapper

    return decorate
