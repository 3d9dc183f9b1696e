"""Named registries: the one place where the kinds of a thing (model types, drift methods) are
listed, so that configs, factories, command-line choices and contract tests all read them.

A package keeps one `Registry` per kind of thing (`kit.models.registry.MODEL_TYPES`,
`kit.drift.registry.DRIFT_METHODS`); each entry registers itself by name with the package's
`register_...` function, and every listing reads the registry in registration order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from kit.errors import KitError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one kind by name, in registration order.

    Parameters
    ----------
    kind : str
        What an entry is, for error messages (``"model type"``, ``"drift method"``).

    Examples
    --------
    >>> colours = Registry("colour")
    >>> colours.add("red", 1)
    1
    >>> colours.add("blue", 2)
    2
    >>> colours.names(), colours["blue"], "red" in colours
    (('red', 'blue'), 2, True)
    >>> colours["green"]
    Traceback (most recent call last):
    ...
    kit.errors.KitError: unknown colour 'green'; choose one of red, blue
    >>> with colours.restored():
    ...     _ = colours.add("green", 3)
    ...     colours.names()
    ('red', 'blue', 'green')
    >>> colours.names()
    ('red', 'blue')
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name` and return it; a name is registered only once.

        Parameters
        ----------
        name : str
            The entry's name, as configs and the command line give it.
        entry : object
            What the name stands for.

        Returns
        -------
        object
            `entry`, so that `add` can end a decorator.

        Raises
        ------
        KitError
            If `name` is empty, not a string, or already registered.

        Examples
        --------
        >>> Registry("colour").add("red", 1)
        1
        """
        if not isinstance(name, str) or not name:
            raise KitError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries:
            raise KitError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> T:
        """Unregister `name` and return its entry (a `KitError` if it is not registered)."""
        entry = self[name]
        del self._entries[name]
        return entry

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def values(self) -> tuple[T, ...]:
        """The registered entries, in registration order."""
        return tuple(self._entries.values())

    def items(self) -> tuple[tuple[str, T], ...]:
        """(name, entry) pairs, in registration order."""
        return tuple(self._entries.items())

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise KitError(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"

    @contextlib.contextmanager
    def restored(self) -> Iterator[Registry[T]]:
        """A context in which entries may be added or removed; on leaving it, the registry
        holds exactly what it held on entering (for tests that register a toy entry)."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)
