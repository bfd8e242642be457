"""Build hook: compile magpie.structures.avl with mypyc when that is possible.

All metadata lives in pyproject.toml; this file only adds the optional extension. Without
mypyc or a C compiler, or with MAGPIE_NO_MYPYC=1, the install is pure Python and avl.py runs
as it is. With MAGPIE_REQUIRE_MYPYC=1 (CI) a failed compilation fails the build instead.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED_MODULES = ["src/magpie/structures/avl.py"]
REQUIRED = os.environ.get("MAGPIE_REQUIRE_MYPYC") == "1"


def warn(message: str) -> None:
    print(f"magpie setup.py: {message}; using the pure-Python modules", file=sys.stderr)


def mypyc_extensions() -> list:
    if os.environ.get("MAGPIE_NO_MYPYC") == "1" or sys.implementation.name != "cpython":
        return []
    try:
        from mypyc.build import mypycify

        return mypycify(COMPILED_MODULES, opt_level="3")
    # No mypyc (ImportError), or mypy found errors in the modules (mypyc then exits).
    except (Exception, SystemExit) as exc:
        if REQUIRED:
            raise
        warn(f"mypyc did not run ({exc!r})")
        return []


class OptionalBuildExt(build_ext):
    """A compiler failure leaves no extension behind, so the .py modules are imported.

    mypyc builds a shim per module plus a shared library; a shim whose library failed would
    shadow the .py file and fail to import, so on any failure every built file is removed.
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            self._give_up(exc)

    def build_extensions(self) -> None:
        try:
            super().build_extensions()
        except Exception as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        if REQUIRED:
            raise exc
        for ext in self.extensions:
            path = self.get_ext_fullpath(ext.name)
            if os.path.exists(path):
                os.remove(path)
        warn(f"compiling with mypyc failed ({exc})")


setup(ext_modules=mypyc_extensions(), cmdclass={"build_ext": OptionalBuildExt})
