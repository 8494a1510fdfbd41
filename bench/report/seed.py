"""``bench seed``: the blog post's experiment, run again through the harness, beside its figures.

The post ("Hello world in Keras", 2016): iris, ``train_test_split(train_size=0.5,
random_state=0)``, LogisticRegressionCV vs a Keras MLP (16 sigmoid units,
Adam, 100 epochs, batch size 1). Here it is one configuration of the same
matrix: iris, one unstratified 50/50 split with seed 0 (the post's exact
split), the adapters with the post's profiles, run by the same executor,
worker processes and store as ``bench run``. Its two accuracies are the only
constants printed, labelled as the post's; every other number comes from the
records of this run.
"""

from __future__ import annotations

from tabulate import tabulate

from hello_bench.data.datasets import DatasetSpec
from hello_bench.measure.settings import TimingSettings
from hello_bench.record import role, value_of
from hello_bench.report.tables import fmt
from hello_bench.run.config import AdapterSpec, Config, validate

#: The seed table's accuracy column: the registry's label of the accuracy metric.
QUALITY = role("accuracy").label

#: Accuracies printed in the blog post (2016). Not measured here.
POST_ACCURACY = {"sklearn-lr:2016": 0.83, "keras-mlp:seed": 0.99}

ROWS = [
    ("sklearn-lr", "LogisticRegressionCV, today's defaults (multinomial, lbfgs, 5-fold)"),
    ("sklearn-lr:2016", "LogisticRegressionCV, 2016 defaults (one-vs-rest, liblinear, 3-fold)"),
    ("keras-mlp:seed", "Keras MLP 4-16-3, Adam, 100 epochs, batch 1"),
    ("torch-mlp:seed", "PyTorch MLP, same model and training"),
    ("sklearn-mlp:seed", "scikit-learn MLPClassifier, same model and training"),
    ("numba-mlp:seed", "Compiled floor: same model and training as plain numba loops (a reference, not a framework)"),
]
#: Rows added after the post's, shown only where the run has their records (runs made before they existed).
OPTIONAL = {"numba-mlp:seed"}
SEED_TIMING = TimingSettings(batch_sizes=(1,), throughput_budget_s=0.01, serving=False, curves=False)


def seed_config(random_state: int = 0, threads: int = 1) -> Config:
    """The post's experiment as a harness config."""
    config = Config(
        datasets=(DatasetSpec("iris"),), adapters=tuple(AdapterSpec.parse(label) for label, _ in ROWS), devices=("cpu",),
        splits=1, first_seed=0, init_seed=random_state, test_size=0.5, stratify=False, threads=threads,
        trial_timeout_s=600.0, interleave=False, description="bench seed: the blog post's experiment", timing=SEED_TIMING,
    )  # fmt: skip
    return validate(config, "bench seed")


def seed_rows(records: list[dict]) -> list[dict]:
    """One row per model, from the run's records."""
    by_adapter = {r["adapter"]: r for r in records}
    rows = []
    for label, text in ROWS:
        r = by_adapter.get(label, {})
        if not r and label in OPTIONAL:
            continue
        row = {"model": text, "post accuracy": POST_ACCURACY.get(label)}
        if r.get("status") != "ok":
            rows.append({**row, "note": f"{r.get('status', 'missing')}: {r.get('reason', '')}"[:160]})
            continue
        cold = role("cold")
        rows.append({
            **row, QUALITY: value_of(r, role("accuracy")), "fit s": value_of(r, role("fit")),
            "first predict ms": cold.shown(value_of(r, cold)), "predict p50 us": value_of(r, role("p50")),
            "stock predict p50 us": value_of(r, role("stock-p50")),
            "note": "; ".join(w.split(":")[0] for w in r.get("warnings", [])),
        })  # fmt: skip
    return rows


HEADERS = [
    "model",
    "post accuracy",
    QUALITY,
    "fit s",
    "first predict ms",
    "predict p50 us",
    "stock predict p50 us",
    "note",
]


def format_seed_table(rows: list[dict]) -> str:
    """The seed table as GitHub Markdown (tabulate)."""
    body = [[fmt(r.get(h)) if r.get(h) is not None else "" for h in HEADERS] for r in rows]
    return tabulate(body, headers=HEADERS, tablefmt="github", disable_numparse=True)


def seed_report(rows: list[dict], seconds: float, threads: dict, run_id: str) -> str:
    """The whole printout: table, where the numbers come from, how to read them."""
    return "\n".join([
        "The 2016 blog post's experiment (iris, train_test_split(train_size=0.5, random_state=0)), run again.",
        "'post accuracy' is what the post printed; every other number was measured just now.",
        "",
        format_seed_table(rows),
        "",
        "Latency: one sample, median over many calls after a warm-up; 'stock' = the framework's",
        "plain predict API (Keras model.predict, torch module call with autograd on). Fit times exclude",
        "each framework's one-time start-up (each worker makes an untimed warm-up fit first).",
        "The 2016 row shows where the post's 0.83 came from: today's LogisticRegressionCV defaults",
        "(multinomial, lbfgs) score higher on the same split. One split cannot rank models:",
        "`bench run` repeats this over many seeded splits, `bench report` tests the differences.",
        f"Threads: {threads}. Took {seconds:.0f} s. Records: run {run_id} (bench report does not include seed runs).",
    ])  # fmt: skip


def seed_split() -> list:
    """The post's split, in memory: ``train_test_split(iris, train_size=0.5, random_state=0)``.

    The same rows as the matrix's seed configuration (unstratified, seed 0);
    the pytest-benchmark suite measures on it.
    """
    from sklearn.model_selection import train_test_split

    from hello_bench.data.datasets import IRIS_COLUMNS, iris_frame

    frame = iris_frame()
    return train_test_split(frame[IRIS_COLUMNS].to_numpy(), frame["species"].to_numpy(), train_size=0.5, random_state=0)
