"""Plan → text: the three outputs of ``reconciler plan``. Pure functions, golden-tested.

``text`` is for terminals, ``markdown`` for pull-request comments, ``json`` for machines and
saved plans. :func:`render` picks one by name so that commands need not know the renderers.
"""

from __future__ import annotations

from typing import Literal

from reconciler.plan.model import Plan
from reconciler.render.json import render_json
from reconciler.render.markdown import DEFAULT_LIMIT, PLAN_MARKER, render_markdown
from reconciler.render.text import render_text

__all__ = [
    "DEFAULT_LIMIT",
    "FORMATS",
    "PLAN_MARKER",
    "Format",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
]

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


def render(plan: Plan, fmt: Format, *, color: bool = False, verbose: bool = False) -> str:
    """The plan in one of :data:`FORMATS`; ``color`` applies to text only."""
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, verbose=verbose)
    return render_text(plan, color=color, verbose=verbose)
