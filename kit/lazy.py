"""Lazy exports of a package: names whose module is imported on first use (PEP 562).

Every package of the kit exports its public names the same way: the light ones are imported in
its ``__init__`` as usual, and the heavy ones (torch, matplotlib, xarray) are listed in one
mapping given to `lazy_exports`, so that importing the package stays light.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose `names` load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : Mapping[str, str]
        Exported name -> the module that defines it.

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)``, to assign at the package's top level.

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("kit", {"KitError": "kit.errors"})
    >>> getattr_("KitError").__name__
    'KitError'
    >>> "KitError" in dir_()
    True
    >>> getattr_("nothing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'kit' has no attribute 'nothing'
    """
    names = dict(names)

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
