"""The one place where rgg's kernels are compiled.

Every kernel is cached on disk (``cache=True``), so only the first process on a machine pays
for Numba's compilation. ``nogil`` lets callers overlap kernels with I/O threads.

Numba's cache is not safe when several processes compile the same function at once (numba
issues #4807 and #10128): an index can end up pointing at another overload's machine code,
which gives wrong numbers or a segfault. That is exactly what happens when a workflow starts
many rgg jobs on a fresh install. So kernels called from Python (:func:`kernel`) compile each
new signature under an inter-process file lock; other processes wait, then load the finished
cache entry. Execution itself is never locked.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba

try:
    import fcntl
except ImportError:  # Windows: no flock; compile without the inter-process lock
    fcntl = None


def _writable(directory: Path) -> bool:
    """Whether ``directory`` exists (or can be made) and this user may write in it."""
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


#: Where Numba caches the kernels by default: beside their source.
_IN_TREE_CACHE = Path(__file__).parent / "__pycache__"


def _user_cache_dir() -> Path:
    """Numba's fallback cache folder, the user's (``~/.cache/numba`` on Linux)."""
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)


def _ensure_cache_dir() -> None:
    """Give Numba a cache folder when neither of its own is writable.

    Numba caches beside the source (``__pycache__``) or in the user's cache folder; on a
    read-only shared install run by a user without a writable home it finds neither and every
    ``cache=True`` kernel fails at import ("no locator available"). Then the cache goes to a
    per-user folder in the temporary directory.
    """
    if numba.config.CACHE_DIR:
        return
    if _writable(_IN_TREE_CACHE) or _writable(_user_cache_dir()):
        return
    fallback = Path(tempfile.gettempdir()) / f"rgg-numba-cache-{_user()}"
    if _writable(fallback):
        numba.config.CACHE_DIR = str(fallback)


_ensure_cache_dir()
njit = functools.partial(numba.njit, cache=True, nogil=True)
"""Helper called from other kernels (compiled as part of its caller, under its lock)."""

prange = numba.prange

_thread_lock = threading.Lock()


def _lock_file() -> Path:
    """Where the compile lock lives: beside the cache Numba writes to (the one it shares with
    other processes), else in a per-user file in the temporary directory."""
    candidates = [Path(numba.config.CACHE_DIR) if numba.config.CACHE_DIR else _IN_TREE_CACHE]
    candidates.append(_user_cache_dir())
    for cache_dir in candidates:
        if _writable(cache_dir):
            return cache_dir / "rgg-compile.lock"
    return Path(tempfile.gettempdir()) / f"rgg-compile-{_user()}.lock"


def _user() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.getlogin()


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Hold the inter-process (and inter-thread) lock that serialises kernel compilation."""
    with _thread_lock:
        if fcntl is None:
            yield
            return
        with open(_lock_file(), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _slp_vectorization() -> Iterator[None]:
    """Let LLVM's SLP vectoriser run on what is compiled inside (called under the lock).

    Numba leaves it off by default since LLVM miscompiled some integer code with it (numba
    PR #8852); the kernels that ask for it are small float loops whose results the tests
    compare bit for bit with scipy's.
    """
    saved = numba.config.SLP_VECTORIZE
    numba.config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba.config.SLP_VECTORIZE = saved


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold back Ctrl-C until the body (a compilation) is done, then raise it.

    A KeyboardInterrupt raised inside LLVM's callbacks is swallowed by ctypes and leaves
    llvmlite's state broken: the process then segfaults. Only the main thread receives
    signals, and only there can the handler be swapped.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler set outside Python: it cannot be put back, leave it
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda number, frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
    elif pressed and previous == signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)


class LockedKernel:
    """A Numba dispatcher whose first call with new argument types compiles under the lock."""

    def __init__(self, dispatcher: Any, *, slp_vectorize: bool = False) -> None:
        self.dispatcher = dispatcher
        self.slp_vectorize = slp_vectorize
        self._compiled: set[tuple] = set()
        functools.update_wrapper(self, dispatcher.py_func)

    def __call__(self, *args: Any) -> Any:
        signature = tuple(numba.typeof(arg) for arg in args)
        if signature not in self._compiled:
            slp = _slp_vectorization() if self.slp_vectorize else contextlib.nullcontext()
            with (
                compile_lock(),
                _ctrl_c_deferred(),
                slp,
            ):  # waiting for the lock stays interruptible
                # loads from the cache, or compiles and saves
                self.dispatcher.compile(signature)
            self._compiled.add(signature)
        return self.dispatcher(*args)


def kernel(*, parallel: bool, slp_vectorize: bool = False) -> Callable[[Callable], LockedKernel]:
    """Decorator for kernels called from Python (not from other kernels).

    ``slp_vectorize`` compiles the kernel with LLVM's SLP vectoriser, which packs runs of
    identical scalar statements (the lanes of a tile) into SIMD instructions.
    """

    def decorate(func: Callable) -> LockedKernel:
        dispatcher = numba.njit(cache=True, nogil=True, parallel=parallel)(func)
        return LockedKernel(dispatcher, slp_vectorize=slp_vectorize)

    return decorate
