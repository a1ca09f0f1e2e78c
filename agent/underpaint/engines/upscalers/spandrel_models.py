"""Super-resolution model files read through spandrel, which detects the architecture from the weights.

spandrel's package `__init__` imports every architecture it supports, and two of them (LaMa, an
inpainter, and RestoreFormer, a face restorer: neither an upscaler) import torchvision at import time.
Where torchvision loads (a user's CUDA machine with the matching wheel) the whole package is used as
is. Where it does not (torchvision absent, or PyPI's wheel that fails against a CPU build of torch with
"operator torchvision::nms does not exist"), spandrel's own modules are imported without running its
package `__init__`: its registry classes, its state-dict canonicaliser and each architecture module, in
the order its main registry lists them (read from that file, so an upgrade's order holds), leaving out
only the architectures whose modules cannot be imported here. Nothing is faked and nothing of spandrel
is copied; only the file reading (`torch.load` through spandrel's restricted unpickler, safetensors)
is done here, because spandrel's ModelLoader module imports the full registry.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from underpaint.engines.diffusers.checkpoint import ModelFileError

SUFFIXES = (".pth", ".safetensors")
"""The files super-resolution models come as (OpenModelDB, Real-ESRGAN's releases, Hugging Face)."""


# spandrel ships no type information: its registry and model descriptors are Any here.
@functools.cache
def architectures() -> tuple[Any, tuple[str, ...]]:
    """spandrel's architecture registry (an ArchRegistry) as this machine can import it, and the architectures
    left out."""
    try:
        importlib.import_module("torchvision")  # only to learn whether spandrel's package imports whole
    except (ImportError, RuntimeError):
        return _without_package_init()
    return importlib.import_module("spandrel").MAIN_REGISTRY, ()


def _without_package_init() -> tuple[Any, tuple[str, ...]]:
    found = importlib.util.find_spec("spandrel")
    if found is None or not found.submodule_search_locations:
        raise ModelFileError("Super-resolution models need spandrel: `pip install --no-deps spandrel einops`.")
    if "spandrel" not in sys.modules:
        # The package's module object without executing its __init__; its submodules import as usual.
        sys.modules["spandrel"] = importlib.util.module_from_spec(found)
    registry_module = importlib.import_module("spandrel.__helpers.registry")
    registry = registry_module.ArchRegistry()
    left_out = []
    main = Path(found.submodule_search_locations[0], "__helpers", "main_registry.py")
    for module_name, class_name in _listed_architectures(main.read_text(encoding="utf-8")):
        try:
            module = importlib.import_module(f"spandrel.architectures.{module_name}")
        except (ImportError, RuntimeError):
            left_out.append(module_name)
            continue
        registry.add(registry_module.ArchSupport.from_architecture(getattr(module, class_name)()))
    return registry, tuple(left_out)


def _listed_architectures(source: str) -> list[tuple[str, str]]:
    """(module, class) of each `ArchSupport.from_architecture(Module.ClassArch())` in spandrel's main registry."""
    listed = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "from_architecture" and node.args:
            made = node.args[0]
            if isinstance(made, ast.Call) and isinstance(made.func, ast.Attribute) \
                    and isinstance(made.func.value, ast.Name):
                listed.append((made.func.value.id, made.func.attr))
    return listed


def read_model(path: Path) -> Any:
    """The super-resolution model in `path` (.pth or .safetensors) as spandrel's ImageModelDescriptor, its
    architecture detected by spandrel, on the
    CPU in eval mode. ModelFileError (unsupported_model_file) for a corrupt file, an unknown architecture or a
    model that is not an image-to-image one."""
    if path.suffix.lower() not in SUFFIXES:
        raise ModelFileError(f"{path.name} is not a super-resolution model file ({' or '.join(SUFFIXES)}).")
    registry, left_out = architectures()
    canonicalize = importlib.import_module("spandrel.__helpers.canonicalize").canonicalize_state_dict
    descriptors = importlib.import_module("spandrel.__helpers.model_descriptor")
    unsupported = importlib.import_module("spandrel.__helpers.registry").UnsupportedModelError
    try:
        model = registry.load(canonicalize(_state_dict(path)))
    except unsupported:
        also = f" (not importable here, as they need torchvision: {', '.join(left_out)})" if left_out else ""
        raise ModelFileError(f"{path.name}: spandrel recognises no architecture in these weights{also}.") from None
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path.name}: the weights do not fit the architecture they look like ({exc}).") \
            from None
    channels = (model.input_channels, model.output_channels)
    if not isinstance(model, descriptors.ImageModelDescriptor) or channels != (3, 3):
        raise ModelFileError(f"{path.name} is a {model.architecture.name} model ({model.purpose}), not an image "
                             "upscaler taking RGB.")
    return model.eval()


def _state_dict(path: Path) -> dict[str, Any]:
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(path, device="cpu")
        restricted = importlib.import_module("spandrel.__helpers.unpickler").RestrictedUnpickle
        loaded = torch.load(path, map_location="cpu", pickle_module=restricted)
    except Exception as exc:
        raise ModelFileError(f"{path.name} cannot be read as model weights ({type(exc).__name__}: {exc}).") \
            from None
    if not isinstance(loaded, dict):
        raise ModelFileError(f"{path.name} holds a {type(loaded).__name__}, not a state dict of weights.")
    return loaded


def describe(model: Any) -> str:
    """What the registry records as the model's architecture: spandrel's name and its scale, e.g. `ESRGAN x4`."""
    return f"{model.architecture.name} x{model.scale}"
