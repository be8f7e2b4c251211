"""The values the surface engine passes around: a symbol :class:`Query`, its :class:`Answer`, and a
:class:`Reference` (a use of a symbol somewhere in code)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """A symbol: ``module``, ``module.name``, ``module.name.attr`` or ``module.name(kwarg=)``.

    ``explicit``: the keyword must be a named parameter (a required argument a caller left
    out), not one that ``**kwargs`` would absorb.  ``instance``: ``attr`` is read on an instance
    (``'C' object has no attribute 'a'``), so what the class's methods set on ``self`` counts.
    """

    module: str
    name: str | None = None
    attr: str | None = None
    kwarg: str | None = None
    explicit: bool = False
    instance: bool = False

    def describe(self) -> str:
        """``lib.m.X``, ``lib.m.X.a`` or ``lib.m.X(k=...)``, as a user would write it."""
        text = ".".join(p for p in (self.module, self.name, self.attr) if p)
        return f"{text}({self.kwarg}=...)" if self.kwarg else text

    def to_json(self) -> list[str | bool | None]:
        """Compact form for caches."""
        flags = [self.explicit, True] if self.instance else [True] if self.explicit else []
        return [self.module, self.name, self.attr, self.kwarg, *flags]


@dataclass(frozen=True)
class Answer:
    """The status of a query, how it was decided, and what the source says about it."""

    status: bool | None
    reason: str
    message: str | None = None  # a removal or deprecation message from the source
    successor: str | None = None  # the name the source says replaces it
    absorbed: bool = False  # a keyword accepted only by **kwargs
    deprecated: bool = False
    settled: bool = True  # False: undecided for now (a read budget ran out); worth asking again


IN_BODY = "in a function body"  # the guard of a reference made only when a function runs


@dataclass(frozen=True)
class Reference:
    """One use of another distribution's API at ``path``:``line``; ``guard`` says what protects it."""

    query: Query
    path: str
    line: int
    guard: str | None = None

    def to_json(self) -> list[object]:
        """Compact form for the cache."""
        return [*self.query.to_json(), self.path, self.line, self.guard]

    @classmethod
    def from_json(cls, row: list[object]) -> Reference:
        """Inverse of :meth:`to_json`."""
        module, name, attr, kwarg, path, line, guard = (None if v is None else str(v) for v in row)
        return cls(Query(str(module), name, attr, kwarg), str(path), int(str(line)), guard)
