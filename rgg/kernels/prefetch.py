"""A cache prefetch hint callable from kernels (LLVM's ``llvm.prefetch``).

Numba has no prefetch of its own. A prefetch never faults and never changes a result: it only
asks the memory system to start loading a cache line that a kernel will read soon, where the
hardware's own prefetcher cannot guess the address (the start of the next stretch of a strided
walk).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import njit

_READ = 0
_KEEP_IN_ALL_LEVELS = 3
_DATA_CACHE = 1


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that ``array[index]`` (1-D, contiguous) will be read soon; ``index`` may lie past
    the end, where the hint is simply wasted."""
    if not (
        isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        # the intrinsic is overloaded on the pointer type: "p0" with LLVM's opaque pointers
        # (LLVM >= 15 as Numba uses it), "p0i8" with the typed i8* of older LLVM
        suffix = "p0" if str(address.type) == "ptr" else "p0i8"
        hint = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32]),
            f"llvm.prefetch.{suffix}",
        )
        builder.call(
            hint,
            [
                address,
                ir.Constant(i32, _READ),
                ir.Constant(i32, _KEEP_IN_ALL_LEVELS),
                ir.Constant(i32, _DATA_CACHE),
            ],
        )
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit
def prefetch_entries(
    indices: np.ndarray, data: np.ndarray, first: int, end: int, n_lines: int
) -> None:
    """Hint the first ``n_lines`` cache lines (of 4-byte values) of the sparse entries
    ``first:end``, both their indices and their values."""
    for line in range(n_lines):
        p = first + 16 * line
        if p >= end:
            return
        prefetch(indices, p)
        prefetch(data, p)
