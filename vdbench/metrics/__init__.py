"""Pure metrics over judged samples: topic values, bootstrap intervals, drift M (with a
paired bootstrap interval) and η.

No I/O here: every function takes and returns numpy arrays or pandas DataFrames.
See docs/metrics.md for the formulas.
"""

from vdbench.metrics.bootstrap import (
    bootstrap_drift_interval,
    bootstrap_replicates,
    bootstrap_topic_values,
    paired_drift_replicates,
    percentile_interval,
)
from vdbench.metrics.drift import (
    DriftTime,
    dominant_drift,
    drift_magnitude,
    drift_time,
    stage_drift,
)
from vdbench.metrics.values import PROB_COLUMNS, VALUE_COLUMNS, topic_values

__all__ = [
    "PROB_COLUMNS",
    "VALUE_COLUMNS",
    "DriftTime",
    "bootstrap_drift_interval",
    "bootstrap_replicates",
    "bootstrap_topic_values",
    "dominant_drift",
    "drift_magnitude",
    "drift_time",
    "paired_drift_replicates",
    "percentile_interval",
    "stage_drift",
    "topic_values",
]
