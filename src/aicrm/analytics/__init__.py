"""aicrm.analytics: pure functions over order tables — RFM, behavioural segments, cohorts."""

from aicrm.analytics.cohorts import cohort_retention
from aicrm.analytics.rfm import SEGMENTS, quintile_score, rfm_scores, rfm_segment, rfm_table, segment_summary
from aicrm.analytics.segmentation import BehaviouralSegmenter

__all__ = [
    "SEGMENTS",
    "BehaviouralSegmenter",
    "cohort_retention",
    "quintile_score",
    "rfm_scores",
    "rfm_segment",
    "rfm_table",
    "segment_summary",
]
