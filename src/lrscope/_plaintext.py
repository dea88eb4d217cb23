"""User text made plain for matplotlib, shared by every plotting module.

matplotlib reads text between two ``$`` as mathtext (a formula): a task
named ``cost $5 vs $6``, a label ``$x`` or a source file ``run$1/a.pt``
would be typeset, or fail to draw at all when the "formula" does not parse.
A legend label starting with ``_`` is hidden. :func:`plain_text` escapes
both, so any string a user gives is drawn as it is written. Nothing here
imports matplotlib.
"""

from __future__ import annotations

__all__ = ["plain_text"]

_ZERO_WIDTH_SPACE = "\u200b"


def plain_text(text: object) -> str:
    """``text`` as a string matplotlib draws literally: ``$`` escaped, no hidden label.

    >>> plain_text("cost $5 and $6")
    'cost \\\\$5 and \\\\$6'
    """
    literal = str(text).replace("$", r"\$")
    return _ZERO_WIDTH_SPACE + literal if literal.startswith("_") else literal
