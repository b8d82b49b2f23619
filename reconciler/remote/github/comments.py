"""The one plan comment: find it (the token's own, with the marker line), cap it, upsert it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.remote.github.client import GitHubClient

DEFAULT_MARKER = "<!-- reconciler:plan -->"
#: GitHub rejects comment bodies over 65,536 characters; stay clearly below it.
COMMENT_LIMIT = 65_000


@dataclass(frozen=True)
class CommentResult:
    """What the upsert did, for the CLI to report."""

    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    url: str
    truncated: bool
    #: Authors of other comments that carry the marker: never edited, worth a warning.
    impostors: tuple[str, ...] = ()


def with_marker(body: str, marker: str) -> str:
    """The body with the marker as its first line, so the next run can find this comment."""
    if marker in body.splitlines():
        return body
    return f"{marker}\n{body}"


def marked(comments: Sequence[Mapping[str, Any]], marker: str) -> list[Mapping[str, Any]]:
    """The comments that have the marker as a whole line, oldest first.

    A whole line, not a substring: someone quoting our comment in a reply gets ``> `` in front of
    it, and their comment must never be overwritten.
    """
    found = []
    for comment in comments:
        body = comment.get("body")
        if not isinstance(comment.get("id"), int):
            continue
        if isinstance(body, str) and marker in (line.rstrip("\r") for line in body.split("\n")):
            found.append(comment)
    return found


def author(comment: Mapping[str, Any]) -> str:
    user = comment.get("user")
    login = user.get("login") if isinstance(user, Mapping) else None
    return login if isinstance(login, str) else ""


def find_marked(
    comments: Sequence[Mapping[str, Any]], marker: str, owner: str
) -> Mapping[str, Any] | None:
    """The oldest marked comment written by ``owner`` (the token's identity); never another's."""
    if not owner:
        return None  # an author we cannot name is nobody's comment to edit
    return next((c for c in marked(comments, marker) if author(c) == owner), None)


def cap_body(body: str, limit: int, artifact_hint: str) -> tuple[str, bool]:
    """Cut an over-long body at a line boundary, close what the cut left open, point at the rest.

    The Markdown renderer caps its own output; this is the last guard before GitHub's hard limit,
    for bodies that did not come from it.
    """
    if len(body) <= limit:
        return body, False
    note = (
        "\n\n**This comment was cut to fit GitHub's size limit.** "
        f"{artifact_hint or 'The full plan is in the workflow run artifacts.'}\n"
    )
    # Room for the note and for closing tags the cut may leave open.
    budget = max(0, limit - len(note) - 200)
    kept = body[:budget]
    if "\n" in kept:
        kept = kept[: kept.rindex("\n")]
    closing = ""
    if sum(1 for line in kept.split("\n") if line.lstrip().startswith("```")) % 2:
        closing += "\n```"
    open_details = kept.count("<details") - kept.count("</details>")
    closing += "\n</details>" * max(0, open_details)
    return kept + closing + note, True


def upsert_comment(
    client: GitHubClient,
    body: str,
    *,
    marker: str = DEFAULT_MARKER,
    limit: int = COMMENT_LIMIT,
    artifact_hint: str = "",
) -> CommentResult:
    """Create the marked comment, or edit it in place; leave it alone when nothing changed."""
    # Cap first, then mark: the marker must survive the cut wherever the body placed it.
    capped, truncated = cap_body(body, limit - len(marker) - 1, artifact_hint)
    capped = with_marker(capped, marker)
    owner = client.identity()
    comments = client.list_comments()
    others = tuple(sorted({author(c) for c in marked(comments, marker)} - {owner}))
    existing = find_marked(comments, marker, owner)
    if existing is None:
        created = client.create_comment(capped)
        return CommentResult("created", int(created["id"]), _url(created), truncated, others)
    comment_id = int(existing["id"])
    if existing.get("body") == capped:
        return CommentResult("unchanged", comment_id, _url(existing), truncated, others)
    updated = client.update_comment(comment_id, capped)
    return CommentResult("updated", comment_id, _url(updated), truncated, others)


def _url(comment: Mapping[str, Any]) -> str:
    url = comment.get("html_url")
    return url if isinstance(url, str) else ""
