"""torch-fidelity's reference modules, loaded without its package `__init__`.

torch-fidelity (installed by the Makefile with `pip install --no-deps torch-fidelity==0.4.0`, so
that it pulls in neither torchvision nor another torch) imports torchvision in its package
`__init__` and in `torch_fidelity/utils.py`; torchvision is not installed beside gankit's torch.
The modules the tests compare against (the Inception feature extractor, the TF1 resize, and the
metric functions) need neither, so the package is replaced by a bare stub whose `__path__` points
at the real files, and `utils` by a stub while a metric module is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

PACKAGE = "torch_fidelity"
_UTILS = f"{PACKAGE}.utils"


def _unavailable(*_: object, **__: object) -> None:
    raise RuntimeError("torch_fidelity.utils is stubbed in gankit's tests (it needs torchvision)")


def ensure_importable() -> bool:
    """Make `import torch_fidelity.<module>` work; False if torch-fidelity is not installed.

    Also lets torchmetrics' image metrics import, which load torch-fidelity's extractor whenever
    the package is installed.
    """
    if PACKAGE in sys.modules:
        return True
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return False
    try:
        importlib.import_module(PACKAGE)  # works where torchvision is installed
        return True
    except ImportError:
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
    stub = types.ModuleType(PACKAGE)
    stub.__path__ = list(spec.submodule_search_locations)
    stub.__file__ = str(Path(stub.__path__[0]) / "__init__.py")
    sys.modules[PACKAGE] = stub
    return True


def load(module: str) -> types.ModuleType | None:
    """torch_fidelity.<module>, or None if torch-fidelity is not installed."""
    if not ensure_importable():
        return None
    name = f"{PACKAGE}.{module}"
    if name in sys.modules:
        return sys.modules[name]
    stub_utils = _UTILS not in sys.modules and not hasattr(sys.modules[PACKAGE], "__version__")
    if stub_utils:
        utils = types.ModuleType(_UTILS)
        utils.__getattr__ = lambda attr: _unavailable  # type: ignore[method-assign]
        sys.modules[_UTILS] = utils
    try:
        return importlib.import_module(name)
    finally:
        if stub_utils:
            del sys.modules[_UTILS]


def version() -> str | None:
    mod = load("version")
    return None if mod is None else mod.__version__
