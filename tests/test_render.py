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


def test_markdown_shows_user_text_literally() -> None:
    from reports.document import text

    doc = [("h2", "QLoRA <script>alert(1)</script> *fast*"), ("p", "a [link](x) & more"),
           ("table", [{"option": "own <b>1x</b> rtx_4090 | x"}], ["option"])]
    out = text(doc, markdown=True)
    assert "<script>" not in out and "<b>" not in out
    assert "## QLoRA &lt;script&gt;alert(1)&lt;/script&gt; \\*fast\\*" in out
    assert "a \\[link\\](x) &amp; more" in out
    assert "| own &lt;b&gt;1x&lt;/b&gt; rtx\\_4090 \\| x |" in out
    assert text(doc).startswith("QLoRA <script>")  # plain text is shown as it is
