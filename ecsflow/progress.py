"""Progress bars that behave in JupyterLab, terminals, CI logs and rendered reports.

Use tqdm only through :func:`progress`. It draws a live widget bar in JupyterLab (with
ipywidgets) and a text bar in a terminal, and stays silent when ``TQDM_DISABLE=1`` is set
(report and test runs set it) or when stderr is not a terminal (CI logs, headless kernels
without ipywidgets). After a long step, print one summary line instead: that line is what a
report should show.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["progress", "progress_disabled"]

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})


def progress_disabled(*, environ: dict[str, str] | None = None) -> bool:
    """Tell whether ``TQDM_DISABLE`` asks for no progress bars.

    Parameters
    ----------
    environ
        The environment to look at; ``os.environ`` when omitted.

    Returns
    -------
    bool
        True when ``TQDM_DISABLE`` is ``1``, ``true``, ``yes`` or ``on`` (any case).

    Examples
    --------
    >>> progress_disabled(environ={"TQDM_DISABLE": "1"})
    True
    >>> progress_disabled(environ={})
    False
    """
    env = os.environ if environ is None else environ
    return env.get("TQDM_DISABLE", "").strip().lower() in _TRUE


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> Any:
    """Wrap an iterable in a tqdm progress bar that knows where it runs.

    Parameters
    ----------
    iterable
        What to iterate over; omit it for a manual bar (``bar.update(n)``).
    **kwargs
        Passed to ``tqdm.auto.tqdm`` (``total``, ``desc``, ``unit``, ...). Without an explicit
        ``disable``, the bar is off when ``TQDM_DISABLE`` is set (see
        :func:`progress_disabled`) and otherwise only shown where it can be drawn: tqdm's
        ``disable=None`` hides it when stderr is not a terminal.

    Returns
    -------
    tqdm.auto.tqdm
        The bar; iterate over it like the iterable.

    Notes
    -----
    tqdm's own ``TQDM_DISABLE`` default is overridden by an explicit ``disable=None``, which
    is why the environment variable is checked here. ``tqdm.auto`` warns "IProgress not found"
    when ipywidgets is missing; that warning is silenced (it would land in every report).

    Examples
    --------
    >>> sum(progress(range(3), desc="demo", disable=True))
    3
    """
    if "disable" not in kwargs:
        kwargs["disable"] = True if progress_disabled() else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
