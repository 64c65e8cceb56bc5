"""Matplotlib as every figure of the suite uses it: the file-only Agg backend, and text drawn exactly as
written. User text reaches figures (method labels in legends and titles, table titles): with matplotlib's
default a label holding two ``$`` is parsed as mathtext, so ``$x$`` changes what the reader sees and
``$\\foo$`` stops the figure job with a parse error. No figure of the suite uses mathtext."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot``, imported here (not at start-up: it costs a second), on the Agg backend, with
    ``text.parse_math`` off."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt
