"""Realistic partner feeds (feeds.md) for demonstrations and tests, calibrated to the 2023 article (marts.md).

    from panro.generate import generate
    summary = generate(Path("data/landing"))            # 2023, scale 1, seed 2023
    print(summary.describe())
"""

from panro.generate.core import FeedSummary, GenerateSummary, generate

__all__ = ["FeedSummary", "GenerateSummary", "generate"]
