"""Judge calibration: agreement with a reference (GPT-4o-class endpoint or human labels)
and a fitted temperature / vector scaling of the local judge's probabilities.

- :mod:`.metrics` — agreement, macro-F1, Cohen's kappa, confusion, ECE, NLL (pure)
- :mod:`.scaling` — fit and apply temperature / vector scaling (pure)
- :mod:`.run` — sampling, reference labels and stored fits (store I/O)

Other commands apply the newest stored fit with
``apply_latest_calibration(store, judge_id, frame)`` (see docs/calibration.md).
"""

from vdbench.calibration.metrics import (
    agreement,
    agreement_report,
    brier_score,
    cohens_kappa,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    negative_log_likelihood,
    per_class_f1,
    reliability_bins,
)
from vdbench.calibration.run import (
    apply_latest_calibration,
    latest_calibration,
    load_calibration,
)
from vdbench.calibration.scaling import (
    apply_calibration,
    calibrate_frame,
    fit_calibration,
    fit_temperature,
    fit_vector,
)

__all__ = [
    "agreement",
    "agreement_report",
    "apply_calibration",
    "apply_latest_calibration",
    "brier_score",
    "calibrate_frame",
    "cohens_kappa",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_calibration",
    "fit_temperature",
    "fit_vector",
    "latest_calibration",
    "load_calibration",
    "macro_f1",
    "negative_log_likelihood",
    "per_class_f1",
    "reliability_bins",
]
