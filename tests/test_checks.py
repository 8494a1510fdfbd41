"""``hello_bench.checks``: the checks plugin authors run, and that they catch what the harness would get wrong."""

from __future__ import annotations

import numpy as np
import pytest

from hello_bench.adapters.sklearn_lr import SklearnLRClassifier
from hello_bench.checks import AdapterCheckError, check_adapter, parametrize_with_checks
from hello_bench.cli import main
from tests.fake_adapters import _Fake


@parametrize_with_checks([SklearnLRClassifier, _Fake])
def test_adapters_pass_their_checks(check):
    check()


class _Unnormalised(_Fake):
    def _predict_proba(self, X):
        return np.tile(self.prior_ * 2, (len(X), 1))


class _ForgetfulIterative(_Fake):
    """Claims to train in epochs but never reports them."""

    iterative = True

    def _train(self, X, y_index, seed):
        super()._train(X, y_index, seed)
        self.epoch_times_ns_ = [1000, 1000]


class _BadDeclaration(_Fake):
    framework = "toy"
    profiles = {"seed": {"epochs": 3}}
    stock_profile = "stock"


@pytest.mark.parametrize(
    "cls, check, words",
    [
        (_Unnormalised, "predictions", "rows must sum to 1"),
        (_ForgetfulIterative, "fit_attributes", "_epoch_end was called 0 times for 2 epochs"),
        (_BadDeclaration, "class_attributes", "stock_profile 'stock' is not one of the profiles"),
    ],
)
def test_each_check_catches_its_mistake(cls, check, words):
    with pytest.raises(AdapterCheckError) as caught:
        check_adapter(cls)
    assert f"{cls.__name__}-{check}" in str(caught.value) and words in str(caught.value)


def test_bench_check_cli(monkeypatch, capsys):
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake,fake-bad=tests.test_checks:_Unnormalised")
    assert main(["check", "fake-ok"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "6 of 6 checks passed."
    assert main(["check", "fake-bad", "--json"]) == 1
    out = capsys.readouterr().out
    assert '"failed": 1' in out and "rows must sum to 1" in out
    assert main(["check", "no-such-adapter"]) == 1
    assert capsys.readouterr().err.startswith("error: Unknown adapter 'no-such-adapter'")
