"""One generic registry: register / get / names. An unknown name is an error listing the closest choices."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from dlfrontier.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of items (experiments, attention modules, benchmarks, ...).

    Args:
        kind: what the items are, used in error messages ("experiment", "attention module").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; registering a name twice is a bug and raises."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object."""

        def wrap(item: T) -> T:
            return self.register(name, item)

        return wrap

    def get(self, name: str) -> T:
        """The item named ``name``; an unknown name raises :class:`UnknownNameError` with suggestions."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._items, n=3, cutoff=0.4)
        if close:
            hint = "did you mean " + ", ".join(close) + "?"
        else:
            hint = "choose one of: " + ", ".join(sorted(self._items))
        return f"unknown {self.kind} {name!r}; {hint}"

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
