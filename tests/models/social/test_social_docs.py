"""docs/social.md's Python example runs as pasted and prints what the page shows."""

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "docs" / "social.md"


def test_the_example_prints_what_the_page_shows():
    code, shown = re.findall(r"```python\n(.*?)```\n\n```text\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)[0]
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(compile(code, str(PAGE), "exec"), {})
    assert printed.getvalue() == shown
