"""scikit-learn's own conformance suite over every adapter.

Each check an adapter is expected to fail is listed with the reason; sklearn
then marks it xfail (and would report an unexpected pass).
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from adapters.sklearn_lr import SklearnLRClassifier
from tests.conftest import has_module

# Settings that keep each of the ~40 checks' fits short while still learning
# sklearn's toy problems (scaled blobs) well enough for check_classifiers_train.
FAST_MLP = dict(hidden_units=16, epochs=30, batch_size=16, learning_rate=0.05, random_state=0)

MLP_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": "fit has no sample_weight (neither does the blog post's model)",
}

estimators = [SklearnLRClassifier(random_state=0)]
if has_module("torch"):
    from adapters.torch_mlp import TorchMLPClassifier

    estimators.append(TorchMLPClassifier(**FAST_MLP))
if has_module("keras") and has_module("tensorflow"):
    from adapters.keras_mlp import KerasMLPClassifier

    estimators.append(KerasMLPClassifier(**FAST_MLP))


def expected_failures(estimator):
    if isinstance(estimator, SklearnLRClassifier):
        return {}
    return MLP_EXPECTED_FAILURES


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(estimators, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
