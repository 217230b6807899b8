"""Instances of a frozen, slotted dataclass made with plain attribute stores.

A frozen dataclass sets each field in its ``__init__`` through
``object.__setattr__``, a call that costs about 2,000 instructions on CPython
3.11 (a slot wrapper: an argument tuple built, sliced and unpacked, the class
checked), so a message of eight fields costs more to make than to encode. The
few objects made once per stored instance (the C-STORE messages, a response
received) are made here instead.

:func:`draft_class` gives a twin of such a class: the same base and the same
slots, without the frozen ``__setattr__`` and ``__delattr__``. An instance of
the twin takes plain stores (the interpreter's fast path for slots); once
every field is set, assigning ``__class__`` turns it into an instance of the
frozen class itself, which Python allows because the two layouts are the same.
The result is the object the dataclass constructor would have made. Callers set
every field, as ``__init__`` does; their tests hold what they make equal to the
constructor's objects, field for field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["draft_class"]


def draft_class(cls: type[Any]) -> type[Any]:
    """The mutable twin of the frozen, slotted dataclass ``cls`` (see the module text).

    Make an object with ``draft = twin()``, set every field of ``cls`` on it, then
    ``draft.__class__ = cls``.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    base: type[Any] = cls.__base__ or object
    twin = type(
        f"{cls.__name__}Draft",
        (base,),
        {
            "__slots__": cls.__dict__["__slots__"],
            "__module__": cls.__module__,
            # Both: they share one type slot, and a Python-level __delattr__ inherited
            # from the frozen base would route every store through Python too.
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            # ``twin()`` makes an empty draft: cheaper than ``object.__new__(twin)``.
            "__init__": object.__init__,
        },
    )
    probe: Any = twin()
    for field in dataclasses.fields(cls):
        setattr(probe, field.name, None)
    probe.__class__ = cls  # raises TypeError now if the layouts ever differ
    return twin
