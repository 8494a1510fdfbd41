"""Micro-benchmarks of every adapter's fit and predict, per device.

Run with ``pytest --benchmark-only`` (the default ``pytest`` skips them; ``--benchmark-disable`` runs each
once, untimed and with one-epoch models: CI's check that every benchmark still works). Groups
put frameworks side by side for one operation; ``direct-*`` entries time the
framework's fastest direct call on the same model, the targets the adapters'
paths are held to (README, "Performance targets").
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.base import clone

from hello_bench.adapters import adapter_class, describe, make_adapter

ADAPTERS = [a for a in ("sklearn-lr", "sklearn-mlp", "keras-mlp", "torch-mlp") if describe(a).available]
DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)]
#: Frameworks with a direct call to hold the adapter's path to (the README's performance targets).
DIRECT = [a for a in ("keras-mlp", "torch-mlp") if a in ADAPTERS]


def iterative(name: str) -> bool:
    return adapter_class(name).iterative


def runs_on(name: str, device: str) -> bool:
    return device in adapter_class(name).supported_devices


def _make(name, device, **params):
    profile = "seed" if "seed" in adapter_class(name).profiles else None
    return make_adapter(name, profile=profile, device=device, random_state=0, **params)


_FITTED: dict = {}


def short(name: str, smoke: bool) -> dict:
    """One epoch instead of the seed's hundred where the benchmark only has to run (``--benchmark-disable``)."""
    return {"epochs": 1} if smoke and iterative(name) else {}


def fitted(name, device, split, smoke=False):
    """One fitted model per (adapter, device), with the seed settings."""
    key = (name, device, smoke)
    if key not in _FITTED:
        X_train, _, y_train, _ = split
        _FITTED[key] = _make(name, device, **short(name, smoke)).fit(X_train, y_train)
    return _FITTED[key]


def info(benchmark, clf, split, threads, **extra):
    _, X_test, _, y_test = split
    benchmark.extra_info.update(
        adapter=type(clf).__name__,
        device=clf.device,
        backend=getattr(clf, "backend", "default"),
        framework=clf.framework,
        n_train=len(split[0]),
        n_test=len(X_test),
        threads=threads,
        **extra,
    )
    if hasattr(clf, "classes_"):
        benchmark.extra_info["accuracy"] = float(clf.score(X_test, y_test))


def interleaved(a, b, rounds: int, scale: float = 1e3) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` timed in alternation (a, b, a, b, ...), so drift lands on both alike.

    A ratio of two benchmarks measured minutes apart on a shared machine mixes
    in the machine's drift; this one does not.
    """
    times: dict = {a: [], b: []}
    for _ in range(rounds):
        for fn in (a, b):
            start = time.perf_counter_ns()
            fn()
            times[fn].append(time.perf_counter_ns() - start)
    return float(np.median(times[a])) / scale, float(np.median(times[b])) / scale


def timed(fn, clf):
    """``fn`` followed by a device sync, so GPU work is inside the timed call."""

    def call(*args):
        out = fn(*args)
        clf.sync()
        return out

    return call


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("batch_size", [1, 32], ids=["seed-batch1", "batch32"])
def test_fit(benchmark, name, device, batch_size, split, threads, smoke):
    if not runs_on(name, device):
        pytest.skip(f"{name} does not run on {device}")
    if not iterative(name) and batch_size == 32:
        pytest.skip("no batch size")
    X_train, _, y_train, _ = split
    params = {"batch_size": batch_size, **short(name, smoke)} if iterative(name) else {}
    proto = _make(name, device, **params)
    clone(proto).fit(X_train, y_train)  # warm the framework up, untimed
    benchmark.group = f"fit-{'seed' if batch_size == 1 else 'batch32'}"
    clf = benchmark.pedantic(
        lambda est: timed(est.fit, est)(X_train, y_train),
        setup=lambda: ((clone(proto),), {}),
        rounds=3 if batch_size == 1 else 5,
        iterations=1,
    )
    info(benchmark, clf, split, threads, batch_size=batch_size, epochs=getattr(clf, "epochs", None))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("what", ["one", "batch", "stock-one"])
def test_predict(benchmark, name, device, what, split, threads, smoke):
    if not runs_on(name, device):
        pytest.skip(f"{name} does not run on {device}")
    clf = fitted(name, device, split, smoke)
    X_test = split[1]
    X = X_test[:1] if what != "batch" else X_test
    fn = clf.predict_proba_stock if what == "stock-one" else clf.predict_proba
    slow = what == "stock-one" and name == "keras-mlp"  # ~50 ms a call
    benchmark.group = f"predict-{what}"
    benchmark.pedantic(
        timed(fn, clf), args=(X,), rounds=30 if slow else 500, iterations=1, warmup_rounds=3 if slow else 50
    )
    info(benchmark, clf, split, threads, n_samples=len(X), path="stock" if what == "stock-one" else "adapter")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", DIRECT)
def test_direct_predict_one(benchmark, name, device, split, threads, smoke):
    """The framework's fastest direct call on the same fitted model (the target)."""
    clf = fitted(name, device, split, smoke)
    one = split[1][:1]
    if name == "torch-mlp":
        import torch

        x = torch.from_numpy(one).to(clf.torch_device_)

        def direct():
            with torch.inference_mode():
                out = torch.softmax(clf.module_(x), dim=1).cpu().numpy()
            return out
    else:
        model = clf.model_

        def direct():
            return model.predict_on_batch(one)

    benchmark.group = "predict-one"
    benchmark.pedantic(timed(direct, clf), rounds=500, iterations=1, warmup_rounds=50)
    adapter_us, direct_us = interleaved(timed(lambda: clf.predict_proba(one), clf), timed(direct, clf),
                                        rounds=2 if smoke else 2000)  # fmt: skip
    info(benchmark, clf, split, threads, n_samples=1, path="direct", interleaved_adapter_us=adapter_us,
         interleaved_direct_us=direct_us, adapter_over_direct=adapter_us / direct_us)  # fmt: skip


@pytest.mark.parametrize("device", DEVICES)
def test_direct_torch_fit_loop(benchmark, device, split, threads, smoke):
    """A minimal hand-written torch loop with the seed settings: the fit target for torch-mlp."""
    torch = pytest.importorskip("torch")
    if device == "gpu" and not torch.cuda.is_available():
        pytest.skip("no GPU")
    X_train, _, y_train, _ = split
    dev = "cuda" if device == "gpu" else "cpu"
    X = torch.from_numpy(X_train).to(dev)
    y = torch.from_numpy(np.unique(y_train, return_inverse=True)[1].astype(np.int64)).to(dev)

    def loop():
        gen = torch.Generator().manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 3)).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        for _ in range(1 if smoke else 100):
            perm = torch.randperm(len(X), generator=gen).to(dev)
            for i in range(len(X)):
                idx = perm[i : i + 1]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
                opt.step()
        if dev == "cuda":
            torch.cuda.synchronize()

    loop()
    benchmark.group = "fit-seed"
    benchmark.pedantic(loop, rounds=3, iterations=1)
    epochs = short("torch-mlp", smoke)
    adapter_fit = timed(lambda: _make("torch-mlp", device, **epochs).fit(X_train, y_train), _make("torch-mlp", device))
    adapter_s, loop_s = interleaved(adapter_fit, loop, rounds=1 if smoke else 3, scale=1e9)
    benchmark.extra_info.update(
        adapter="hand-written torch loop", device=device, threads=threads, batch_size=1, epochs=100,
        interleaved_adapter_s=adapter_s, interleaved_direct_s=loop_s, adapter_over_direct=adapter_s / loop_s,
    )  # fmt: skip


COLD = {
    "sklearn-lr": "import hello_bench.adapters.sklearn_lr as m",
    "sklearn-mlp": "import hello_bench.adapters.sklearn_mlp as m",
    "keras-mlp": "from hello_bench.adapters.keras_mlp import import_keras; import_keras('tensorflow')",
    "torch-mlp": "import torch",
}


@pytest.mark.parametrize("name", ADAPTERS)
def test_cold_start(benchmark, name, split, threads):
    """A fresh process: import the framework, fit one epoch, first predict."""
    code = (
        "import numpy as np; from hello_bench.report.seed import seed_split; from hello_bench.adapters import make_adapter;"
        f"{COLD[name]};"
        "Xtr, Xte, ytr, yte = seed_split();"
        f"clf = make_adapter({name!r}, random_state=0{', epochs=1' if iterative(name) else ''}).fit(Xtr, ytr);"
        "clf.predict(Xte[:1])"
    )
    env_cmd = [sys.executable, "-c", code]

    def run():
        start = time.perf_counter()
        subprocess.run(env_cmd, check=True, capture_output=True)
        return time.perf_counter() - start

    benchmark.group = "cold-start"
    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info.update(adapter=name, device="cpu", what="python -c: import, fit 1 epoch, first predict")
