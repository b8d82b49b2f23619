"""Siro's scorecard-metric values API: what its page says, what we assume, what the code does.

The vendor page is ``GET /v1/core/scorecards/scorecard-metrics/values`` (``contracts/vendor/``).
It documents the query parameters and one example response; it says nothing about how the next
page is requested, how a list parameter is encoded, or what an unknown recording answers. The
typed constants below are what the Siro client and the importer read; :data:`SIRO` documents each
one. ``docs/contract.md`` renders the same table for users.
"""

from __future__ import annotations

from typing import Final, Literal

from reconciler.contract.registry import Entry, Registry

__all__ = [
    "COUNT_IS_ADDITIVE",
    "LIST_ENCODING",
    "METRIC_TYPE_UNITS",
    "NEXT_PAGE_PARAM",
    "PASS_RATE_RANGE",
    "SCORE_UNITS",
    "SIRO",
    "UNKNOWN_RECORDING",
    "VENDOR_EXAMPLE_METRIC_VALUE",
    "UnknownRecording",
]

UnknownRecording = Literal["404", "empty"]

#: The query parameter that asks for the page after ``cursor``.
NEXT_PAGE_PARAM: Final = "cursor"
#: How a list query parameter goes on the wire: ``filterByIds=a&filterByIds=b``.
LIST_ENCODING: Final[Literal["repeat"]] = "repeat"
#: What ``filterBy=RECORDING`` with an id Siro does not know answers: "404", or "empty" (200 with
#: ``recordingsEvaluatedCount`` 0). The importer tells a typo from an empty window either way.
UNKNOWN_RECORDING: Final[UnknownRecording] = "404"
#: ``recordingsEvaluatedCount`` over ids A+B equals the count over A plus the count over B.
COUNT_IS_ADDITIVE: Final = True
#: What a pass rate means (percent of recordings that passed); the vendor's example shows 123.
PASS_RATE_RANGE: Final = (0.0, 100.0)

#: Units whose values are already 0-100 scores (compared case-insensitively).
SCORE_UNITS: Final = ("percent", "percentage", "%", "score")
#: Metric types whose value is certainly not a 0-100 score, with the unit it is in: the vendor's
#: example says CONVERSATION_TIME is in seconds; the others are read from their names.
METRIC_TYPE_UNITS: Final = {
    "CONVERSATION_TIME": "seconds",
    "REP_SPEAKING_TIME": "seconds",
    "CUSTOMER_SPEAKING_TIME": "seconds",
    "LONGEST_MONOLOGUE_SECONDS": "seconds",
    "LONGEST_CUSTOMER_STORY_SECONDS": "seconds",
    "RECORDING_COUNT": "a count",
    "BOOKMARK": "a count",
    "CUSTOMER_QUESTIONS_COUNT": "a count",
    "REP_QUESTIONS_COUNT": "a count",
    "EXCHANGES_COUNT": "a count",
    "REP_EXCHANGES_COUNT": "a count",
    "TOTAL_REP_EXCHANGES_WITH_A_QUESTION": "a count",
    "REP_WORD_COUNT": "a count",
    "REP_UNIQUE_WORDS_USED_COUNT": "a count",
    "REP_FILLER_WORDS_COUNT": "a count",
    "REP_WORDS_PER_MINUTE": "words per minute",
    "REP_FILLER_WORDS_PER_MIN": "words per minute",
}

#: The metric value of the vendor page's example response, verbatim: the evidence for
#: ``pass_rate_range`` and ``metric_units``, and what tests feed the client and the importer.
VENDOR_EXAMPLE_METRIC_VALUE: Final = {
    "id": "metric_value_001",
    "name": "Conversation Time",
    "unit": "seconds",
    "unitAbbreviated": "sec",
    "metricType": "CONVERSATION_TIME",
    "description": "Total duration of the conversation in seconds",
    "value": 1800,
    "passRate": 123,
}

SIRO = Registry(
    "Siro",
    (
        Entry(
            key="next_page_param",
            value=NEXT_PAGE_PARAM,
            vendor='"cursor": "<string>", ... "hasNextPage": true (response only)',
            reading="The page lists no request parameter for the next page; we send the "
            "response's cursor back as ?cursor=.",
            client="Follows hasNextPage with ?cursor=; a null, empty or repeated cursor while "
            "hasNextPage is true is an error naming the recordings (never a silent stop).",
            probe="Ask with a small window; if hasNextPage is true, fetch ?cursor= and compare.",
        ),
        Entry(
            key="list_encoding",
            value=LIST_ENCODING,
            vendor="filterByIds required: IDs to filter by (can be array or single string) "
            "Minimum array length: 1",
            reading="An array goes on the wire as the parameter repeated "
            "(filterByIds=a&filterByIds=b), the form Node's query parsers read as an array.",
            client="Sends batches of recording ids as repeated filterByIds.",
            probe="Ask for two recordings with repeated filterByIds: count is 2, filterByIds "
            "echoes both.",
        ),
        Entry(
            key="aggregate",
            value="one aggregate over the ids sent",
            vendor='"recordingsEvaluatedCount": 150, "metricValues": [...], "filterByIds": '
            '["user_001", "user_002"]',
            reading="One response aggregates every id sent; recordingsEvaluatedCount counts the "
            "recordings in the window among them.",
            client="Probes batches of recordings; only a batch with a count above 0 is split "
            "further, and one recording's own values are read alone.",
            probe="Ask for the test recording alone and in a pair: counts 1 and 2.",
        ),
        Entry(
            key="count_additive",
            value=COUNT_IS_ADDITIVE,
            vendor=None,
            reading="recordingsEvaluatedCount over ids A+B is the count over A plus over B, so a "
            "half of a batch can be skipped when the other half holds the whole count.",
            client="Splits a batch in halves and asks for one half; a half count above the "
            "batch's is an error naming the batch.",
            probe="Counts of the test recording alone, the other alone and both together.",
        ),
        Entry(
            key="unknown_recording",
            value=UNKNOWN_RECORDING,
            vendor=None,
            reading="filterBy=RECORDING with an id Siro does not know answers 404 (the "
            "alternative, 200 with count 0, is handled by UNKNOWN_RECORDING = 'empty').",
            client="404: the batch is split until the unknown ids are found, each an error. "
            "'empty': recordings without values in the window are asked for again over all "
            "time up to --end; one never evaluated is an error (a typo), not a warning.",
            probe="Ask for a random recording id: observe 404 or a count of 0.",
        ),
        Entry(
            key="pass_rate_range",
            value=PASS_RATE_RANGE,
            vendor='"passRate": 123',
            reading="A pass rate is a percentage of recordings that passed, so 0-100; the "
            "vendor's own example holds 123, so the response is never rejected for it.",
            client="Checked only where a mapping uses it, against the mapping's rule; an "
            "unmapped field never fails a recording.",
            probe="Values of the test recording: every passRate is within 0-100 or null.",
        ),
        Entry(
            key="metric_value_fields",
            value=("metricType", "name"),
            vendor='"id", "name", "unit", "unitAbbreviated", "metricType", "description", '
            '"value", "passRate" (an example; no field is marked required)',
            reading="Every field of a metric value may be absent; a mapping matches on "
            "metricType or name, and value/passRate are null when nothing qualified.",
            client="Reads each field only where the mapping uses it; a missing one is an error "
            "naming the recording, the metric and the rule.",
            probe="Values of the test recording: which fields each metric value carries.",
        ),
        Entry(
            key="metric_units",
            value=SCORE_UNITS,
            vendor='"unit": "seconds", "unitAbbreviated": "sec", "metricType": '
            '"CONVERSATION_TIME", ... "value": 1800',
            reading="value is in its own unit; only a value whose unit is a percentage or a "
            "score is already 0-100. The unit strings other than 'seconds' are not documented.",
            client="score: value needs such a unit; any other value needs a range or scale in "
            "the mapping, and a metric type known to be seconds or a count is refused at load.",
            probe="Values of the test recording: the unit of each metric type.",
        ),
        Entry(
            key="group_by",
            value="not sent",
            vendor="groupBy Optional grouping for the metrics",
            reading="The response schema is the same with or without groupBy; its effect is "
            "undocumented.",
            client="Never sends groupBy.",
            probe="Ask with groupBy=RECORDING: compare the shape with the answer without it.",
        ),
        Entry(
            key="date_time",
            value="UTC with Z",
            vendor="startAt required: Start date for the metrics range (ISO 8601 format) "
            'Example: "2024-01-01T00:00:00Z"',
            reading="ISO 8601 date-times; the form of the example (upper-case T and Z) is "
            "the one certainly accepted.",
            client="Sends UTC date-times with upper-case T and Z, milliseconds included.",
            probe="Ask with the client's form: 200.",
        ),
    ),
)
