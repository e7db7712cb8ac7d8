"""JAX sources: a function with its parameters, Flax modules (Linen and NNX) and `jax.export`
artifacts; files (serialized artifacts, Flax checkpoints) are read by `edge_kit.models.jax_files`.

Every source becomes one function of its input arrays (parameters closed over) plus argument
specs whose dimensions may be symbolic (a dynamic batch `b`). The reference run is that
function jitted on CPU; `edge_kit.bridges.jax_convert` traces the same function. jax and flax
are imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_kit.errors import EdgeKitError, UsageError
from edge_kit.models.base import SourceModel
from edge_kit.models.sniff import Kind
from edge_kit.signature import TensorSpec, guess_layout, resolve_inputs

BATCH_DIM = "b"  # the name a dynamic leading dimension gets
# jax errors raised when Python code needs the value of a traced array.
_CONCRETIZATION_ERRORS = (
    "ConcretizationTypeError",
    "TracerBoolConversionError",
    "TracerIntegerConversionError",
    "TracerArrayConversionError",
)
_MISSING: Any = object()


class JaxSource(SourceModel):
    """A JAX model: `fn(*arrays)` returns any pytree of arrays; `arg_specs` are its declared
    inputs (`jax.ShapeDtypeStruct`, dimensions possibly symbolic), or None when undeclared."""

    framework = "jax"
    path: Path  # always set: the file, or the function's name

    def __init__(
        self,
        fn: Callable[..., Any],
        arg_specs: Sequence[Any] | None,
        *,
        path: Path,
        kind: Kind,
        names: Sequence[str] | None = None,
        exported: Any = None,
    ) -> None:
        super().__init__(path, kind)
        self.fn = fn
        self.arg_specs = list(arg_specs) if arg_specs is not None else None
        self.exported = exported  # the jax.export.Exported a serialized artifact holds
        self._names = list(names) if names else None
        self._jitted: Any = None

    @property
    def input_names(self) -> list[str]:
        count = len(self.arg_specs) if self.arg_specs is not None else len(self.inputs)
        return self._names or [f"input_{i}" for i in range(count)]

    def declared_inputs(self) -> list[TensorSpec] | None:
        if self.arg_specs is None:
            return None
        return [tensor_spec(name, s) for name, s in zip(self.input_names, self.arg_specs)]

    def flat_fn(self, *arrays: Any) -> tuple[Any, ...]:
        """`fn` with its outputs flattened to a tuple of arrays (what the converters trace)."""
        import jax

        return tuple(jax.tree.leaves(self.fn(*arrays)))

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        import jax

        if self._jitted is None:
            self._jitted = jax.jit(self.flat_fn)
        with jax.default_device(jax.devices("cpu")[0]):
            outs = self._jitted(*[np.asarray(a) for a in arrays])
        return [np.asarray(o) for o in outs]

    def output_specs(self) -> list[TensorSpec]:
        """Output specs from abstract evaluation at the concrete inputs (nothing is computed)."""
        outs = abstract_outputs(self.flat_fn, concrete_specs(self.inputs), self.describe_fn())
        return [
            TensorSpec(name=f"output_{i}", shape=tuple(int(d) for d in o.shape), dtype=np.dtype(o.dtype).name)
            for i, o in enumerate(outs)
        ]

    def polymorphic_specs(self) -> list[Any]:
        """The declared specs (symbolic dimensions kept), else the concrete ones."""
        return list(self.arg_specs) if self.arg_specs is not None else concrete_specs(self.inputs)

    def polymorphic_shapes(self) -> list[str]:
        """jax2tf's `polymorphic_shapes` for `polymorphic_specs`, e.g. `(b, 8, 8, 1)`."""
        return [
            "(" + ", ".join(str(d) for d in s.shape) + ("," if len(s.shape) == 1 else "") + ")"
            for s in self.polymorphic_specs()
        ]

    def resolve(self, input_shapes: Sequence[tuple[int, ...]] = (), input_dtypes: Sequence[str] = ()) -> JaxSource:
        """Fix the concrete inputs (declared specs + user shapes/dtypes) and check the function
        traces with them: a one-line UsageError otherwise."""
        self.inputs = resolve_inputs(self.declared_inputs(), input_shapes, input_dtypes, self.framework)
        if self.arg_specs is not None:
            abstract_outputs(self.flat_fn, self.arg_specs, self.describe_fn())
        self.output_specs()
        return self

    def describe_fn(self) -> str:
        """How messages name the model: its file, or `the JAX function <name>`."""
        return self.path.name if self.kind is not Kind.JAX_FUNCTION else f"the JAX function {self.path.name}"

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.arg_specs is not None:
            out["symbolic_dims"] = sorted({str(d) for s in self.arg_specs for d in s.shape if not isinstance(d, int)})
        return out


def tensor_spec(name: str, spec: Any) -> TensorSpec:
    """A TensorSpec from a jax shape/dtype (symbolic dimensions become None). The layout is
    guessed from the shape (as for ONNX): Flax convolutions are NHWC, lax's default is NCHW."""
    shape = tuple(int(d) if _is_static(d) else None for d in spec.shape)
    return TensorSpec(name=name, shape=shape, dtype=np.dtype(spec.dtype).name, layout=guess_layout(shape, "onnx"))


def _is_static(dim: Any) -> bool:
    return isinstance(dim, (int, np.integer))


def concrete_specs(specs: Sequence[TensorSpec]) -> list[Any]:
    """jax specs of resolved (concrete) TensorSpecs."""
    import jax

    return [jax.ShapeDtypeStruct(tuple(int(d or 0) for d in s.shape), np.dtype(s.dtype)) for s in specs]


def arg_specs(example_inputs: Sequence[Any]) -> list[Any]:
    """jax specs from example inputs: arrays (static shapes), `jax.ShapeDtypeStruct`s (maybe
    symbolic) or edgekit TensorSpecs (None dimensions become symbolic: `b` first, `d<i>_<j>` after)."""
    import jax

    if not isinstance(example_inputs, (list, tuple)):
        example_inputs = [example_inputs]
    scope = jax.export.SymbolicScope()
    specs = []
    for i, item in enumerate(example_inputs):
        if isinstance(item, TensorSpec):
            dims = [
                str(d) if d is not None else (BATCH_DIM if j == 0 else f"d{i}_{j}") for j, d in enumerate(item.shape)
            ]
            shape = jax.export.symbolic_shape(", ".join(dims), scope=scope) if dims else ()
            specs.append(jax.ShapeDtypeStruct(shape, np.dtype(item.dtype)))
        elif hasattr(item, "shape") and hasattr(item, "dtype"):
            specs.append(jax.ShapeDtypeStruct(tuple(item.shape), np.dtype(item.dtype)))
        else:
            raise UsageError(
                f"example input {i} is a {type(item).__name__}",
                hint="give arrays, jax.ShapeDtypeStruct or edge_kit TensorSpec values",
            )
    return specs


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join((str(exc).strip().splitlines() or [""])[0].split())
    return (text or type(exc).__name__)[:limit]


def _shapes_text(specs: Sequence[Any]) -> str:
    return ", ".join(f"{np.dtype(s.dtype).name}[{','.join(str(d) for d in s.shape)}]" for s in specs)


def trace_error(exc: BaseException, specs: Sequence[Any], what: str) -> EdgeKitError:
    """The one-line error for a function that does not trace with `specs`."""
    name, first = type(exc).__name__, first_line(exc)
    shapes = _shapes_text(specs)
    if isinstance(exc, TypeError) and "missing" in str(exc) and "positional argument" in str(exc):
        return UsageError(
            f"{what} needs more arguments than the {len(specs)} input(s) given: {first}",
            hint="pass its parameters (params=...) or one example input per array argument",
        )
    if type(exc).__module__.startswith("flax.") or "Scope" in name:
        return UsageError(
            f"{what} is missing parameters or variables: {first}",
            hint="pass the variables module.init(...) returns (Linen: {'params': ...}) or a checkpoint that holds them",
        )
    if name in _CONCRETIZATION_ERRORS:
        return UsageError(
            f"{what} cannot be traced with inputs {shapes}: {name}: {first}",
            hint="it uses the value of an array in Python control flow; use jax.lax.cond / jnp.where instead",
        )
    if name == "InconclusiveDimensionOperation":
        return UsageError(
            f"{what} cannot be traced with a symbolic dimension ({shapes}): {first}",
            hint="give that dimension a concrete size (a static example input or --input-shape)",
        )
    return UsageError(
        f"{what} cannot be traced with inputs {shapes}: {name}: {first}",
        hint="check the input shapes and dtypes (example_inputs, --input-shape, --input-dtype)",
    )


def abstract_outputs(fn: Callable[..., Any], specs: Sequence[Any], what: str) -> list[Any]:
    """The flat output shapes/dtypes of `fn` at `specs` (abstract evaluation), or a one-line error."""
    import jax

    try:
        return list(jax.tree.leaves(jax.eval_shape(fn, *specs)))
    except EdgeKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - tracing runs the user's Python code: it may raise anything
        raise trace_error(exc, specs, what) from None


def _from_package(obj: Any, package: str) -> bool:
    """Whether a class in `obj`'s MRO comes from `package` (checked without importing flax)."""
    return any(cls.__module__ == package or cls.__module__.startswith(package + ".") for cls in type(obj).__mro__)


def is_linen(obj: Any) -> bool:
    return _from_package(obj, "flax.linen")


def is_nnx(obj: Any) -> bool:
    return _from_package(obj, "flax.nnx")


def is_exported(obj: Any) -> bool:
    return type(obj).__name__ == "Exported" and type(obj).__module__.startswith("jax.")


def _name(obj: Any, fallback: str) -> str:
    return str(getattr(obj, "__name__", None) or type(obj).__name__ or fallback)


def _source(fn: Callable[..., Any], name: str, example_inputs: Any, names: Sequence[str] | None) -> JaxSource:
    specs = arg_specs(example_inputs) if example_inputs is not None else None
    source = JaxSource(fn, specs, path=Path(name), kind=Kind.JAX_FUNCTION, names=names)
    if specs is not None:
        abstract_outputs(source.flat_fn, specs, source.describe_fn())
    return source


def from_function(
    apply_fn: Callable[..., Any],
    params: Any = _MISSING,
    example_inputs: Any = None,
    *,
    input_names: Sequence[str] | None = None,
    name: str | None = None,
) -> JaxSource:
    """`apply_fn(params, *inputs)`, or `apply_fn(*inputs)` when no params are given."""
    if not callable(apply_fn):
        raise UsageError(f"a {type(apply_fn).__name__} is not a JAX function", hint="pass a callable")
    fn = apply_fn if params is _MISSING else (lambda *xs: apply_fn(params, *xs))
    return _source(fn, name or _name(apply_fn, "function"), example_inputs, input_names)


def _nnx_fn(module: Any) -> Callable[..., Any]:
    from flax import nnx

    graphdef, state = nnx.split(module)

    def call(*xs: Any) -> Any:
        model = nnx.merge(graphdef, state)
        model.eval()  # inference mode: BatchNorm running averages, Dropout off
        return model(*xs)

    return call


def from_flax(
    module: Any,
    variables: Any = None,
    example_inputs: Any = None,
    *,
    input_names: Sequence[str] | None = None,
    name: str | None = None,
    **apply_kwargs: Any,
) -> JaxSource:
    """A Flax Linen module with its variables (`module.apply(variables, *inputs, **apply_kwargs)`;
    a zero-argument callable returning them also works) or an NNX module (variables unused)."""
    label = name or type(module).__name__
    if is_nnx(module):
        return _source(_nnx_fn(module), label, example_inputs, input_names)
    if not is_linen(module):
        raise UsageError(f"a {type(module).__name__} is not a Flax module", hint="pass a flax.linen or flax.nnx module")
    if callable(variables):
        variables = variables()
    if variables is None:
        raise UsageError(
            f"the Flax Linen module {label} needs its variables",
            hint="pass variables=module.init(key, x) or the trained {'params': ...}",
        )
    return _source(lambda *xs: module.apply(variables, *xs, **apply_kwargs), label, example_inputs, input_names)


def from_exported(exported: Any, path: Path | None = None) -> JaxSource:
    """A `jax.export.Exported` (deserialized artifact): its in_avals are the declared inputs."""
    import jax

    in_tree = exported.in_tree

    def call(*leaves: Any) -> Any:
        args, kwargs = jax.tree.unflatten(in_tree, leaves)
        return exported.call(*args, **kwargs)

    specs = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in exported.in_avals]
    kind = Kind.JAX_EXPORT if path is not None else Kind.JAX_FUNCTION
    return JaxSource(call, specs, path=path or Path(exported.fun_name), kind=kind, exported=exported)


def from_object(
    obj: Any, *, params: Any = _MISSING, example_inputs: Any = None, input_names: Sequence[str] | None = None
) -> JaxSource:
    """Any in-memory JAX model: a Flax Linen/NNX module, a `jax.export.Exported` or a function."""
    if is_exported(obj):
        return from_exported(obj)
    if is_linen(obj) or is_nnx(obj):
        return from_flax(obj, None if params is _MISSING else params, example_inputs, input_names=input_names)
    if callable(obj):
        return from_function(obj, params, example_inputs, input_names=input_names)
    raise UsageError(
        f"a {type(obj).__name__} is not a JAX model",
        hint="pass a function (with params=...), a Flax Linen/NNX module or a jax.export.Exported",
    )


def accepts(obj: Any) -> bool:
    """Whether a live object is a JAX model (checked without importing jax or flax)."""
    import functools
    import sys
    import types

    if "jax" not in sys.modules:
        return False
    if is_exported(obj) or is_linen(obj) or is_nnx(obj):
        return True
    jitted = type(obj).__module__.startswith("jax")
    return isinstance(obj, (types.FunctionType, functools.partial)) or (callable(obj) and jitted)


def wrap(obj: Any, options: Any) -> JaxSource:
    """The Python API's live JAX model (`params`, `example_inputs` from the export request)."""
    params = options.extra.get("params", _MISSING)
    return from_object(obj, params=params, example_inputs=options.example_inputs).resolve(
        options.input_shapes, options.input_dtypes
    )
