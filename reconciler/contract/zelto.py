"""Zelto's customer-metrics API: what its page says, what we assume, what the code does.

The vendor page is ``POST /v1/conversations/{id}/customer-metrics`` (``contracts/vendor/``). It
documents the request body and the response record; it says nothing about status codes, errors,
retries, how a replace treats absent fields, or which field a replace is keyed on. The typed
constants below are what the planner, the applier and the client read; :data:`ZELTO` documents each
one. ``docs/contract.md`` renders the same table for users.
"""

from __future__ import annotations

from typing import Final, Literal

from reconciler.contract.registry import Entry, Registry

__all__ = [
    "ERROR_MESSAGE_PATH",
    "LENGTH_UNITS",
    "LIST_CURSOR_FIELD",
    "SUBMIT_IS_FULL_REPLACE",
    "TRANSIENT_STATUSES",
    "UNKNOWN_CONVERSATION_STATUS",
    "UPSERT_KEY",
    "ZELTO",
]

#: The field a POST is keyed on: a POST with a stored record's label replaces that record.
UPSERT_KEY: Final[Literal["label"]] = "label"
#: A POST replaces the whole record: a field left out of the body is cleared.
SUBMIT_IS_FULL_REPLACE: Final = True
#: Statuses that mean "try again later"; every other 4xx/5xx is final.
TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Where an error body carries its human-readable message (the client also looks elsewhere).
ERROR_MESSAGE_PATH: Final = ("error", "message")
#: Unknown conversation (or another organization's).
UNKNOWN_CONVERSATION_STATUS: Final = 404
#: String limits are checked in both units: a JavaScript server counts UTF-16 code units.
LENGTH_UNITS: Final = ("code points", "UTF-16 code units")
#: The record listing is one page; a cursor in this field is followed if one ever appears.
LIST_CURSOR_FIELD: Final = "nextCursor"

ZELTO = Registry(
    "Zelto",
    (
        Entry(
            key="upsert_key",
            value=UPSERT_KEY,
            vendor=None,
            reading="The page says only 'The created (or replaced) customer metric.' We assume "
            "the replace is keyed on (conversation, label): a POST with a stored label "
            "replaces it.",
            client="The planner matches remote records by label; specs keep labels unique per "
            "conversation; the applier verifies by label.",
            probe="POST twice with one label and two externalIds: the listing holds one record.",
        ),
        Entry(
            key="submit_full_replace",
            value=SUBMIT_IS_FULL_REPLACE,
            vendor=None,
            reading="A replace stores exactly the body sent: a field left out is cleared (not "
            "merged with the stored value).",
            client="The applier sends every declared field; the plan shows the fields a POST "
            "will clear.",
            probe="POST with a note, then without: the note is gone.",
        ),
        Entry(
            key="submit_success",
            value="2xx",
            vendor=None,
            reading="The page shows no status code; any 2xx with the record is success.",
            client="Any 2xx is success; the body is validated as the documented record.",
            probe="POST a record: the status is 2xx and the body is the record.",
        ),
        Entry(
            key="transient_statuses",
            value=TRANSIENT_STATUSES,
            vendor=None,
            reading="No status codes are documented. 408, 425, 429, 500, 502, 503 and 504 are "
            "taken as transient, everything else as final.",
            client="Retries transient statuses with backoff (honouring Retry-After); other "
            "4xx fail the record with the server's message; 401 stops the run.",
            probe="Not probed live (a transient error cannot be provoked safely).",
        ),
        Entry(
            key="error_message",
            value=ERROR_MESSAGE_PATH,
            vendor=None,
            reading="Error bodies are undocumented; assumed JSON with the message at "
            "error.message.",
            client="Shows error.message, else the first message-like string anywhere in the "
            "body, else the body itself, truncated.",
            probe="POST a score of 101: the status is 4xx and error.message is a string.",
        ),
        Entry(
            key="unknown_conversation",
            value=UNKNOWN_CONVERSATION_STATUS,
            vendor=None,
            reading="An unknown conversation id (or another organization's) answers 404.",
            client="The plan reports that conversation as an error naming the id.",
            probe="GET the records of a random UUID: 404.",
        ),
        Entry(
            key="length_units",
            value=LENGTH_UNITS,
            vendor="Required string length: 1 - 255 (label); Maximum string length: 5000 "
            "(note); Maximum string length: 255 (externalId)",
            reading="The page does not say what a character is. A JavaScript server counts "
            "UTF-16 code units, where a character outside the BMP (an emoji) counts twice.",
            client="Specs are checked in both units, so a value valid here is valid there.",
            probe="POST a label of 128 emoji (256 UTF-16 units): observe the status.",
        ),
        Entry(
            key="list_cursor",
            value=LIST_CURSOR_FIELD,
            vendor=None,
            reading="GET .../customer-metrics (not on the vendor page) answers {data: [...]} in "
            "one response; a nextCursor, if ever present, is followed.",
            client="Follows nextCursor, stops on null; a repeated cursor is an error.",
            probe="GET the test conversation's records: the body has a data list.",
        ),
        Entry(
            key="null_in_body",
            value="omit",
            vendor="score number Required range: 0 <= x <= 100",
            reading="The request schema types every field without null: a field is cleared by "
            "leaving it out, never by sending null.",
            client="Never sends null.",
            probe="POST with note null: observe the status.",
        ),
    ),
)
