"""scikit-learn's own conformance suite over every adapter.

Every check scikit-learn generates for these estimators passes; none is
listed as an expected failure. (Checks of ``sample_weight`` are not
generated: the adapters' ``fit`` takes none. The array-API check skips
itself unless ``SCIPY_ARRAY_API=1``.)
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from adapters.sklearn_lr import SklearnLRClassifier
from tests.conftest import has_module

# Settings that keep each of the ~40 checks' fits short while still learning
# sklearn's toy problems (scaled blobs) well enough for check_classifiers_train.
FAST_MLP = dict(hidden_units=16, epochs=30, batch_size=16, learning_rate=0.05, random_state=0)

estimators = [SklearnLRClassifier(random_state=0)]
if has_module("torch"):
    from adapters.torch_mlp import TorchMLPClassifier

    estimators.append(TorchMLPClassifier(**FAST_MLP))
if has_module("keras") and has_module("tensorflow"):
    from adapters.keras_mlp import KerasMLPClassifier

    estimators.append(KerasMLPClassifier(**FAST_MLP))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(estimators)
def test_sklearn_compatible(estimator, check):
    check(estimator)
