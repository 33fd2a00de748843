"""Public modules whose names are imported on first use (PEP 562), with ``__module__`` set to the public home.

A public module (``execlab``, ``execlab.brokers``, ...) lists its names as ``{name: private module}`` and calls
:func:`lazy_exports`; adding a name is one line there. ``import execlab`` then loads nothing but the package itself.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports", "public_home"]

#: Names of the ``execlab`` top level; a name exported there too has ``execlab`` as its home.
_TOP: dict[str, str] = {}


def public_home(module: str, name: str) -> str:
    """The public module an object is shown under: ``execlab`` for a top-level name, else ``module``."""
    return "execlab" if name in _TOP else module


def _set_home(value: Any, home: str) -> None:
    """Show ``value`` as ``home.<name>`` in reprs and docs; pydantic models keep theirs (pydantic resolves their
    annotations in the module they were defined in)."""
    defined_in = str(getattr(value, "__module__", ""))
    private = defined_in.startswith("execlab.") and any(p.startswith("_") for p in defined_in.split(".")[1:])
    if not (isinstance(value, type) or callable(value)) or not private:
        return
    if isinstance(value, type) and any(b.__module__.startswith("pydantic") for b in value.__mro__[1:]):
        return
    with contextlib.suppress(AttributeError, TypeError):  # a built-in or a slot wrapper
        value.__module__ = home


def lazy_exports(module: str, exports: Mapping[str, str], legacy: Mapping[str, str] | None = None,
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for the public module ``module``.

    ``exports``: each public name and the private module it is defined in. ``legacy``: names still importable from
    ``module`` (old code keeps working) but not part of its ``__all__``, nor cached on it.
    """
    if module == "execlab":
        _TOP.update(exports)
    old = dict(legacy or {})
    names = sorted(exports, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook PEP 562 names)
        source = exports.get(name) or old.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        if name in exports:
            _set_home(value, public_home(module, name))
            setattr(sys.modules[module], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[module])) | set(names))

    return names, __getattr__, __dir__
