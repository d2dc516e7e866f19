"""The cyclic garbage collector, paused while a large acyclic structure is built.

Discovery turns API pages into hundreds of thousands of dicts, lists and strings at once, none of them in a
cycle (they come from JSON) and all of them kept. Each allocation burst triggers collections that walk every
live object again: at 37,000 Ingresses, 4.1 s of a 5.3 s discovery went to the decoder's share of those
walks (cProfile, collections on versus paused). Reference counting still frees everything else as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector's state as before after it (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
