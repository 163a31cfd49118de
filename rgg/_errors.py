"""Exceptions for bad input.

Each subclasses the exception scanpy raises in the same situation, so code written against
scanpy (``except IndexError``, ``except AttributeError``) keeps working, while the message
names the problem and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(name: object, choices: Iterable[object]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_unique_genes(names: Any, why: str) -> None:
    """Refuse gene names that occur more than once, saying ``why`` that matters."""
    if names.is_unique:
        return
    twins = names[names.duplicated()].unique()
    msg = (
        f"{len(twins)} gene names occur more than once (e.g. {', '.join(map(repr, twins[:3]))}), "
        f"so {why}. Call adata.var_names_make_unique() (or adata.raw.var_names_make_unique()) "
        "first."
    )
    raise ValueError(msg)


def check_choice(name: str, value: object, choices: tuple[str, ...], meaning: str) -> None:
    """Refuse an option value outside ``choices``, saying what each choice means."""
    if value not in choices:
        msg = f"{name} must be one of {list(choices)}, got {value!r}: {meaning}"
        raise ValueError(msg)


class _MessageKeyError(KeyError):
    """A KeyError whose message prints as written (KeyError quotes it otherwise)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ColumnNotFoundError(_MessageKeyError):
    """An ``obs``/``var`` column or a layer that does not exist."""


def obs_column(adata: Any, key: str, argument: str) -> Any:
    """``adata.obs[key]``, or a :class:`ColumnNotFoundError` naming ``argument`` and the columns."""
    if key not in adata.obs.columns:
        msg = (
            f"{argument}={key!r} is not a column of adata.obs.{did_you_mean(key, adata.obs.columns)} "
            f"Available columns: {list(adata.obs.columns)}."
        )
        raise ColumnNotFoundError(msg)
    return adata.obs[key]


def adata_layer(adata: Any, layer: str, hint: str = "") -> Any:
    """``adata.layers[layer]``, or a :class:`ColumnNotFoundError` listing the layers (then
    ``hint``, a sentence on what to pass instead)."""
    if layer not in adata.layers:
        msg = (
            f"layer={layer!r} is not in adata.layers.{did_you_mean(layer, adata.layers.keys())} "
            f"Available layers: {list(adata.layers.keys())}.{' ' + hint if hint else ''}"
        )
        raise ColumnNotFoundError(msg)
    return adata.layers[layer]


class GroupbyNotCategoricalError(ValueError, AttributeError):
    """``groupby`` names a numeric or boolean column (scanpy: AttributeError on ``.cat``)."""


class UnknownGroupError(ValueError, IndexError):
    """A label in ``groups`` that is not a category (scanpy: bare IndexError)."""


class NonFiniteValuesError(ValueError):
    """NaN or infinite values in the tested matrix."""


class UnsupportedDtypeError(ValueError, TypeError):
    """A tested matrix whose values are not real numbers (complex, object, strings)."""


class UnknownKeywordError(TypeError, ValueError):
    """A keyword argument no test reads (scanpy would drop it without a word)."""
