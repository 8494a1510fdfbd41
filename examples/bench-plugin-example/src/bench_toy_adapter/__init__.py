"""The adapter: toyframework behind hello-bench's adapter contract.

Three training hooks make it a scikit-learn classifier (``_build``,
``_train``, ``_predict_proba``); class hooks tell the harness what only this
package knows about its framework. Everything else (label encoding,
validation, devices, seeds, measurement, records) comes from
``BenchClassifier``.
"""

from __future__ import annotations

from hello_bench.adapters.base import BenchClassifier


class ToyCentroidClassifier(BenchClassifier):
    """Nearest-centroid classifier from toyframework.

    Parameters
    ----------
    device : {"cpu", "auto"}, default="cpu"
    random_state : int, RandomState or None, default=None
        Unused (the model is deterministic); kept for the harness's seeds.
    """

    framework = "toyframework"
    requires = ("toyframework",)
    install_extra = ""  # its own package: pip install bench-toy-adapter
    supported_devices = ("cpu",)
    model = "nearest-centroid"

    def __init__(self, *, device="cpu", random_state=None):
        self.device = device
        self.random_state = random_state

    # -- class hooks: what the harness asks ----------------------------------
    @classmethod
    def framework_versions(cls, backend="default"):
        import toyframework

        return {"framework_version": toyframework.__version__, "backend_version": None}

    @classmethod
    def limit_threads(cls, threads, backend="default"):
        import toyframework

        toyframework.set_num_threads(threads)
        return {**super().limit_threads(threads, backend), "toy_threads": toyframework.get_num_threads()}

    def device_name(self, device):
        import toyframework

        return toyframework.device_name()

    # -- training hooks ----------------------------------------------------------
    def _build(self, n_features, n_classes, seed, device):
        import toyframework

        self.model_ = toyframework.NearestCentroid()

    def _train(self, X, y_index, seed):
        self.model_.fit(X, y_index, len(self.classes_))

    def _predict_proba(self, X):
        return self.model_.predict_proba(X)
