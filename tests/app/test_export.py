"""The CSV export never hands a spreadsheet a formula that a member typed as a name."""

from __future__ import annotations

import csv
import io
import json

from gridwait.app.export import COLUMNS, ExportRow, render


def _row(**fields: object) -> ExportRow:
    return ExportRow.model_construct(**(dict.fromkeys(COLUMNS) | fields))


def test_a_name_that_starts_like_a_formula_is_quoted_in_the_csv_only() -> None:
    rows = [
        _row(project_name='=HYPERLINK("http://evil.example","x")', job_name="@SUM(A1)"),
        _row(project_name="reviews", job_name="-1+2", emissions=-0.5, duration=12.0),
    ]
    [first, second] = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert first["project_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert first["job_name"] == "'@SUM(A1)"
    assert second["project_name"] == "reviews" and second["job_name"] == "'-1+2"
    # numbers stay numbers, a negative one included
    assert second["emissions"] == "-0.5" and second["duration"] == "12.0"
    # the JSON export is data, not a sheet: names as typed
    dumped = json.loads(render(rows, "json"))
    assert dumped[0]["project_name"].startswith("=HYPERLINK")
