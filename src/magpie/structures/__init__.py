"""General data structures with their own tests, independent of Redis semantics.

``avl`` is the order-statistic AVL tree behind sorted sets and NUMERIC search fields. It is
typed Python that may be compiled with mypyc at install time; when it was not, the same
source runs as ordinary Python (``avl_is_compiled()`` tells which one was imported).
"""

from magpie.structures.avl import AvlTree


def avl_is_compiled() -> bool:
    """True when ``magpie.structures.avl`` was imported as a mypyc-compiled extension."""
    from magpie.structures import avl

    return not avl.__file__.endswith(".py")


__all__ = ["AvlTree", "avl_is_compiled"]
