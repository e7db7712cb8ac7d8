"""PyTorch sources: TorchScript archives, ExportedPrograms and state_dicts (+ --model-class).

Full pickles execute code from the file when unpickled: they are refused unless the
user passes the explicit trust flag. state_dicts load with `weights_only=True`, and so
does every pickle inside an ExportedProgram archive (see `_weights_only`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_kit.errors import ExportError, ModelLoadError, TrustError, UsageError
from edge_kit.models.base import LoadOptions, SourceModel, digest_arrays, flatten_outputs
from edge_kit.models.sniff import Kind
from edge_kit.signature import DimRange, TensorSpec, guess_layout

if TYPE_CHECKING:
    from edge_kit.registry import Registry

# A TorchScript archive may declare its inputs in this extra file
# (torch.jit.save(m, path, _extra_files={"edgekit_inputs.json": '[{"name": "x", "shape": [1, 3, 224, 224]}]'})).
SIGNATURE_FILE = "edgekit_inputs.json"
FORCE_SAFE, FORCE_UNSAFE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


class TorchSource(SourceModel):
    """A PyTorch model: `obj` is a ScriptModule, an ExportedProgram or an nn.Module."""

    framework = "torch"

    def __init__(
        self,
        path: Path | None,
        kind: Kind,
        obj: Any,
        embedded_signature: list[TensorSpec] | None = None,
        examples: tuple[Any, ...] | None = None,
    ) -> None:
        super().__init__(path, kind)
        self.obj = obj
        self.embedded_signature = embedded_signature
        self.examples = examples  # live objects: the user's example inputs (they define the signature)

    def declared_inputs(self) -> list[TensorSpec] | None:
        if self.examples is not None:
            return _example_specs(self.obj, self.examples)
        if self.kind is Kind.TORCHSCRIPT:
            return self.embedded_signature
        if self.kind is not Kind.EXPORTED_PROGRAM:
            return None
        return _program_specs(self.obj)

    def declared_ranges(self) -> dict[str, DimRange]:
        return _program_ranges(self.obj) if self.kind is Kind.EXPORTED_PROGRAM and self.examples is None else {}

    def arguments(self) -> list[tuple[str, str | None]] | None:
        """TorchScript's `forward` schema: tensors, and the int/float/bool scalars bound as constants."""
        schema = getattr(getattr(self.obj, "forward", None), "schema", None)
        if schema is None or self.kind is not Kind.TORCHSCRIPT:
            return None
        types = {"int": "int64", "float": "float32", "bool": "bool"}
        return [(a.name, types.get(str(a.type))) for a in schema.arguments if a.name != "self"]

    def index_inputs(self) -> set[str]:
        """TorchScript inputs that feed an embedding lookup directly."""
        graph = getattr(self.obj, "inlined_graph", None)
        if graph is None or self.kind is not Kind.TORCHSCRIPT:
            return set()
        schema = [a.name for a in self.obj.forward.schema.arguments]
        names = {i.debugName(): name for i, name in zip(graph.inputs(), schema)}  # values are renamed on load
        return {
            names[i.debugName()]
            for n in graph.nodes()
            if n.kind() == "aten::embedding"
            for i in list(n.inputs())[1:2]
            if i.debugName() in names
        }

    def scalar_positions(self) -> set[int]:
        """Inputs `forward` takes as Python scalars (a TorchScript `int sr`), not tensors."""
        arguments = self.arguments() or []
        return {i for i, (_, scalar) in enumerate(arguments) if scalar is not None}

    def call_args(self, arrays: Sequence[Any]) -> tuple[Any, ...]:
        """Arrays as `forward` takes them: tensors, and Python scalars where it wants those."""
        import torch

        scalars = self.scalar_positions()
        return tuple(
            np.asarray(a).item()
            if i in scalars
            else (a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a, order="C")))
            for i, a in enumerate(arrays)
        )

    def example_inputs(self) -> tuple[Any, ...]:
        """Example inputs matching `self.inputs` (for tracing/export): the user's own when
        they fit, else deterministic samples (scalars as Python values)."""
        from edge_kit.signature import random_inputs

        if self.examples is not None and [tuple(e.shape) for e in self.examples] == [s.shape for s in self.inputs]:
            return tuple(self.examples)
        return self.call_args(random_inputs(self.inputs, 1, seed=1234)[0])

    def dynamic_shapes(self) -> tuple[Any, ...] | None:
        """torch.export's `dynamic_shapes` for the dimensions that stay dynamic (with their bounds)."""
        if not self.ranges:
            return None
        import torch

        dims = {name: torch.export.Dim(_identifier(name), min=r.min, max=r.max) for name, r in self.ranges.items()}
        return tuple({axis: dims[name] for axis, name in spec.dynamic_axes().items()} or None for spec in self.inputs)

    @cached_property
    def exported_program(self) -> Any:
        """The model as a `torch.export.ExportedProgram` with exactly this export's signature:
        the dynamic dimensions it keeps (bounded), every other one at its size."""
        import torch

        if self.kind is Kind.EXPORTED_PROGRAM and self._program_fits():
            return self.obj
        module = self.obj.module() if self.kind is Kind.EXPORTED_PROGRAM else self.obj
        if isinstance(self.obj, torch.jit.ScriptModule):
            from edge_kit.models.ts_export import module_from_torchscript

            try:
                module = module_from_torchscript(self.obj, self.example_inputs())
            except Exception as exc:  # noqa: BLE001 - the converter raises anything on what it lacks
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise ExportError(
                    f"TorchScript → ExportedProgram conversion failed: {first}",
                    hint="export the Python module with torch.export (or its ONNX), or use --format ptl",
                ) from None
        return torch.export.export(module, self.example_inputs(), dynamic_shapes=self.dynamic_shapes())

    def _program_fits(self) -> bool:
        declared = _program_specs(self.obj)
        return (
            [tuple(s.dims) for s in self.inputs] == [tuple(d.dims) for d in declared]
            and all(
                all(d is None or d == s for d, s in zip(decl.shape, spec.shape))
                for decl, spec in zip(declared, self.inputs)
            )
            and self.ranges == self.declared_ranges()
        )

    def with_program(self, program: Any) -> TorchSource:
        """The same model (path, inputs) backed by another ExportedProgram, e.g. an equalized copy."""
        clone = TorchSource(self.path, Kind.EXPORTED_PROGRAM, program, self.embedded_signature, self.examples)
        clone.inputs = self.inputs
        return clone

    def prepared(self, options: Any) -> TorchSource:
        from edge_kit.quant.prepare import prepare

        return prepare(self, options)

    def weights_digest(self) -> str | None:
        state = getattr(self.obj, "state_dict", {})  # a method of modules, a dict of ExportedPrograms
        state = state() if callable(state) else state
        return digest_arrays([v.detach().cpu().numpy() for v in state.values() if hasattr(v, "detach")])

    def module(self) -> Any:
        """An eager `nn.Module` view (what litert-torch and tracing need)."""
        import torch

        if isinstance(self.obj, torch.nn.Module) and not isinstance(self.obj, torch.jit.ScriptModule):
            return self.obj
        return self.exported_program.module()

    def torchscript(self) -> Any:
        """The model as TorchScript (for the lite interpreter)."""
        import torch

        if isinstance(self.obj, torch.jit.ScriptModule):
            return self.obj
        return torch.jit.trace(self.module(), self.example_inputs(), check_trace=False)

    @cached_property
    def _callable(self) -> Any:
        """What `run` calls (an ExportedProgram's module is built once, not per call)."""
        return self.obj.module() if self.kind is Kind.EXPORTED_PROGRAM else self.obj

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            return flatten_outputs(self._callable(*self.call_args(arrays)))


def _import_factory(spec: str) -> Any:
    """Resolve `package.module:Factory` or `path/to/file.py:Factory` to a callable."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"invalid --model-class '{spec}'", hint="use module:Factory or path/to/file.py:Factory")
    try:
        if module_name.endswith(".py"):
            file = Path(module_name)
            loader_spec = importlib.util.spec_from_file_location(file.stem, file)
            if loader_spec is None or loader_spec.loader is None or not file.is_file():
                raise FileNotFoundError(module_name)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules.setdefault(file.stem, module)
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the working folder is importable
            module = importlib.import_module(module_name)
        return getattr(module, attr)
    except Exception as exc:  # noqa: BLE001 - importing runs the user's module: it may raise anything
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        if not isinstance(exc, (ImportError, FileNotFoundError, AttributeError)):
            detail = f"{type(exc).__name__}: {detail}"
        raise UsageError(
            f"cannot import --model-class '{spec}': {detail}", hint="check the module path and that it is importable"
        ) from None


def _load_pickle(path: Path, model_class: str | None, trust: bool) -> Any:
    import pickle

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        if "weights_only" not in str(exc) and "Unsupported" not in str(exc) and "GLOBAL" not in str(exc):
            raise ModelLoadError(
                f"{path.name} is a damaged torch.save file ({str(exc)[:120]})", hint="save it again"
            ) from None
        if not trust:
            raise TrustError(
                f"{path.name} is a full pickle: loading it would run code stored in the file",
                hint="re-save it with torch.jit.save, torch.export.save or as a state_dict, "
                "or pass --trust-model if you trust its author",
            ) from None
        data = torch.load(path, map_location="cpu", weights_only=False)
    except (EOFError, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path.name} is a damaged torch.save file ({str(exc)[:120]})", hint="save it again"
        ) from None
    if isinstance(data, torch.nn.Module):
        return data
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelLoadError(f"{path.name} holds a {type(data).__name__}, not a state_dict or module")
    if model_class is None:
        raise UsageError(
            f"{path.name} holds only weights (a state_dict)",
            hint="pass --model-class module:Factory that builds the architecture",
        )
    module = _build(model_class)
    try:
        module.load_state_dict(data, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"the weights in {path.name} do not fit {model_class}: {str(exc).splitlines()[0][:160]}"
        ) from None
    return module


def _build(model_class: str) -> Any:
    """Call the --model-class factory; whatever it raises is the user's code failing, said in one line."""
    import torch

    factory = _import_factory(model_class)
    try:
        module = factory()
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        raise UsageError(
            f"--model-class {model_class} failed to build the model: {type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0][:160]}",
            hint="it must be callable with no arguments and return a torch.nn.Module",
        ) from None
    if not isinstance(module, torch.nn.Module):
        raise UsageError(
            f"--model-class {model_class} returned a {type(module).__name__}, not a torch.nn.Module",
            hint="point it at a factory or class that builds the architecture",
        )
    return module


def load_torch(path: Path, kind: Kind, model_class: str | None, trust: bool) -> TorchSource:
    """Load a torch source of the sniffed `kind`."""
    import torch

    extra = {SIGNATURE_FILE: ""}
    try:
        # Archives are opened here and handed over as file objects: torch's C++ readers take
        # only UTF-8 path strings, and a file name need not be UTF-8.
        if kind is Kind.TORCHSCRIPT:
            with open(path, "rb") as handle:
                obj = torch.jit.load(handle, map_location="cpu", _extra_files=extra)
        elif kind is Kind.EXPORTED_PROGRAM:
            obj = _load_exported_program(path, trust)
        else:
            obj = _load_pickle(path, model_class, trust)
    except (RuntimeError, ValueError, KeyError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot load {path.name} as {kind.value}: {first}",
            hint="the file may be damaged or from an incompatible torch",
        ) from None
    if hasattr(obj, "eval") and kind is not Kind.EXPORTED_PROGRAM:
        obj.eval()
    return TorchSource(path, kind, obj, _parse_signature(extra[SIGNATURE_FILE], path))


@contextlib.contextmanager
def _weights_only() -> Iterator[None]:
    """Make every torch.load in the block weights-only, even where torch asks for a full pickle.

    torch.export.load unpickles tensor-subclass weights and constants with weights_only=False,
    and retries its sample inputs that way after a refusal: a crafted .pt2 runs code on load.
    """
    saved = {key: os.environ.pop(key, None) for key in (FORCE_SAFE, FORCE_UNSAFE)}
    os.environ[FORCE_SAFE] = "1"
    try:
        yield
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def _load_exported_program(path: Path, trust: bool) -> Any:
    """torch.export.load, refusing the pickled objects a .pt2 may hold unless trusted."""
    import pickle

    import torch

    with open(path, "rb") as handle:
        if trust:
            return torch.export.load(handle)
        try:
            with _weights_only():
                return torch.export.load(handle)
        except pickle.UnpicklingError:
            raise TrustError(
                f"{path.name} stores pickled Python objects: loading them would run code stored in the file",
                hint="pass --trust-model if you trust its author",
            ) from None


def _parse_signature(text: str | bytes, path: Path) -> list[TensorSpec] | None:
    """Input specs stored in a TorchScript archive's `edgekit_inputs.json` extra file."""
    if not text:
        return None
    try:
        specs = [
            TensorSpec(
                name=str(s["name"]), shape=tuple(int(d) for d in s["shape"]), dtype=str(s.get("dtype", "float32"))
            )
            for s in json.loads(text)
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelLoadError(
            f"{path.name}: invalid {SIGNATURE_FILE} ({exc})", hint="fix it or pass --input-shape"
        ) from None
    return [TensorSpec(s.name, s.shape, s.dtype, guess_layout(s.shape, "torch")) for s in specs]


def _identifier(name: str) -> str:
    """A dimension name torch.export takes (a Python identifier)."""
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return text if text and not text[0].isdigit() else f"d_{text}"


def _program_specs(program: Any) -> list[TensorSpec]:
    """An ExportedProgram's user inputs: symbolic dims keep their symbol, token inputs their vocabulary."""
    specs = []
    vocab = _embedding_vocabularies(program)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
            val = node.meta.get("val")
            shape = tuple(d if isinstance(d, int) else None for d in val.shape)
            dims = tuple(None if isinstance(d, int) else str(d) for d in val.shape)
            spec = TensorSpec(
                name=node.name,
                shape=shape,
                dtype=str(val.dtype).removeprefix("torch."),
                layout=guess_layout(shape, "torch"),
                dims=dims if any(dims) else (),
            )
            specs.append(replace(spec, kind="tokens", high=float(vocab[node.name])) if node.name in vocab else spec)
    return specs


def _program_ranges(program: Any) -> dict[str, DimRange]:
    """The bounds torch.export recorded for its symbolic dims (unbounded ones are left out)."""
    out = {}
    for symbol, bounds in program.range_constraints.items():
        if not (getattr(bounds.upper, "is_finite", True) and getattr(bounds.lower, "is_finite", True)):
            continue  # an unbounded dimension (sympy's oo: int() fails inside sympy): its size comes from the user
        try:
            low, high = int(bounds.lower), int(bounds.upper)
        except (TypeError, ValueError, OverflowError, AttributeError):
            continue
        if 0 < high < 1 << 31:
            out[str(symbol)] = DimRange(max(low, 1), high)
    return out


def _embedding_vocabularies(program: Any) -> dict[str, int]:
    """User inputs used as embedding indices: the table's row count."""
    import torch

    out = {}
    for node in program.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.aten.embedding.default:
            weight, indices = node.args[0], node.args[1]
            if getattr(indices, "op", None) == "placeholder" and "val" in getattr(weight, "meta", {}):
                out[indices.name] = int(weight.meta["val"].shape[0])
    return out


def _example_specs(obj: Any, examples: Sequence[Any]) -> list[TensorSpec]:
    """Input specs of a live module from its example inputs (names from `forward`'s parameters)."""
    import inspect

    forward = getattr(obj, "forward", None)
    try:
        names = [p for p in inspect.signature(forward).parameters if p != "self"] if forward else []
    except (TypeError, ValueError):
        names = []
    specs = []
    for i, example in enumerate(examples):
        if not hasattr(example, "shape") or not hasattr(example, "dtype"):
            raise UsageError(
                f"example input {i} is a {type(example).__name__}, not a tensor",
                hint="pass example_inputs as a tuple of torch tensors",
            )
        shape = tuple(int(d) for d in example.shape)
        name = names[i] if i < len(names) else f"input_{i}"
        specs.append(TensorSpec(name, shape, str(example.dtype).removeprefix("torch."), guess_layout(shape, "torch")))
    return specs


def _live_kind(obj: Any) -> Kind | None:
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(obj, torch.export.ExportedProgram):
        return Kind.EXPORTED_PROGRAM
    if isinstance(obj, torch.jit.ScriptModule):
        return Kind.TORCHSCRIPT
    if isinstance(obj, torch.nn.Module):
        return Kind.TORCH_MODULE
    return None


def wrap_torch(obj: Any, options: LoadOptions) -> TorchSource:
    """A live nn.Module / ScriptModule / ExportedProgram; modules need their example inputs."""
    kind = _live_kind(obj)
    assert kind is not None
    examples = tuple(options.example_inputs) if options.example_inputs is not None else None
    if kind is Kind.EXPORTED_PROGRAM:
        return TorchSource(None, kind, obj)
    if examples is None and not options.input_shapes:
        raise UsageError(
            f"a live {type(obj).__name__} needs example inputs to define its signature",
            hint="pass example_inputs=(torch.rand(1, 3, 224, 224),)",
        )
    obj.eval()
    return TorchSource(None, kind, obj, examples=examples)


def register(registry: Registry) -> None:
    from edge_kit.registry import SourceType

    for kind, what in (
        (Kind.TORCHSCRIPT, "TorchScript (torch.jit.save)"),
        (Kind.EXPORTED_PROGRAM, "ExportedProgram (torch.export.save, .pt2)"),
        (Kind.TORCH_PICKLE, "torch.save state_dict (+ --model-class)"),
    ):

        def load(path: Path, options: LoadOptions, kind: Kind = kind) -> TorchSource:
            return load_torch(path, kind, options.model_class, options.trust)

        def accepts(obj: Any, kind: Kind = kind) -> bool:
            return _live_kind(obj) is kind

        registry.add_source(
            SourceType(
                kind.value,
                "torch",
                what,
                load=load,
                accepts=accepts if kind is not Kind.TORCH_PICKLE else None,
                wrap=wrap_torch if kind is not Kind.TORCH_PICKLE else None,
            )
        )
    registry.add_source(
        SourceType(
            Kind.TORCH_MODULE.value,
            "torch",
            "a live torch.nn.Module (Python API)",
            accepts=lambda obj: _live_kind(obj) is Kind.TORCH_MODULE,
            wrap=wrap_torch,
        )
    )
