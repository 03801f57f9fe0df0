"""The docs stay what a newcomer reads first: a map under 10 KB, and an index of every decision record."""

from __future__ import annotations

import re

from panro.settings import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_the_architecture_is_a_map_under_10_kb():
    assert (DOCS / "architecture.md").stat().st_size <= 10 * 1024


def test_every_decision_record_is_in_the_index_and_every_index_entry_exists():
    records = {p.name for p in (DOCS / "decisions").glob("[0-9][0-9][0-9][0-9]-*.md")}
    index = (DOCS / "decisions" / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\]\((\d{4}-[^)]+\.md)\)", index))
    assert records == listed


def test_every_decision_record_says_its_context_decision_and_consequences():
    for path in sorted((DOCS / "decisions").glob("[0-9][0-9][0-9][0-9]-*.md")):
        text = path.read_text(encoding="utf-8").lower()
        missing = [h for h in ("context", "decision", "consequences") if f"## {h}" not in text]
        assert not missing, f"{path.name} has no section {missing}"
        number = path.name[:4]
        assert sum(p.name.startswith(number) for p in path.parent.glob("*.md")) == 1, f"{number} is used twice"
