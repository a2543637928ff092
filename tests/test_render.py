"""Cell formatting shared by every table: numbers read the same in the terminal, Markdown and HTML."""

from __future__ import annotations

import pytest

from reports.render import format_cell


@pytest.mark.parametrize(("value", "text"), [
    (9999.7, "10,000"),  # rounds up to five digits: never "1e+04"
    (9999.5, "10,000"),
    (-9999.7, "-10,000"),
    (9999.4, "9,999"),
    (1234.567, "1,235"),
    (12345.6, "12,346"),
    (999.96, "1,000"),
    (0.00012345, "0.0001234"),
    (float("inf"), "never"),
    (float("nan"), "n/a"),
])
def test_format_cell_decides_on_the_rounded_value(value: float, text: str) -> None:
    assert format_cell(value) == text
