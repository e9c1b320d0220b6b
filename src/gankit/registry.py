"""The one place where names that arrive as strings (CLI, YAML, checkpoints) map to code.

Each registry validates names on registration and lists the choices when a lookup fails,
so a typo gives a message that names the allowed values, never a KeyError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gankit.errors import GankitError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object map that rejects duplicates and unknown names with clear errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str = "") -> Callable[[T], T]:
        """Decorator: register `obj` under `name` (lower-case letters, digits, '-' and '_')."""
        if not name or not all(ch.isalnum() or ch in "-_" for ch in name) or name != name.lower():
            raise ValueError(f"invalid {self.kind} name {name!r}")

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            self._docs[name] = doc or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            raise GankitError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            )
        return self._items[name]

    def validate(self, name: str, key: str) -> None:
        """Raise a GankitError naming the config `key` if `name` is not registered."""
        if name not in self._items:
            raise GankitError(
                f"{key}: unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}"
            )

    def names(self) -> list[str]:
        return sorted(self._items)

    def doc(self, name: str) -> str:
        return self._docs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
