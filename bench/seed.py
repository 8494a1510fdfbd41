"""``bench seed``: the blog post's experiment, run again, beside its figures.

The post ("Hello world in Keras", 2016): iris, ``train_test_split(train_size=0.5,
random_state=0)``, LogisticRegressionCV vs a Keras MLP (16 sigmoid units,
Adam, 100 epochs, batch size 1). Its two accuracies are the only constants
here, labelled as the post's; every other number comes from running.
"""

from __future__ import annotations

from tabulate import tabulate

from adapters import describe, make_adapter

from .datasets import IRIS_COLUMNS, iris_frame
from .measure import Split, TimingSettings, measure_trial

#: Accuracies printed in the blog post (2016). Not measured here.
POST_ACCURACY = {"sklearn-lr/2016": 0.83, "keras-mlp/seed": 0.99}

ROWS = [
    ("sklearn-lr", None, "LogisticRegressionCV, today's defaults (multinomial, lbfgs, 5-fold)"),
    ("sklearn-lr", "2016", "LogisticRegressionCV, 2016 defaults (one-vs-rest, liblinear, 3-fold)"),
    ("keras-mlp", "seed", "Keras MLP 4-16-3, Adam, 100 epochs, batch 1"),
    ("torch-mlp", "seed", "PyTorch MLP, same model and training"),
]


def seed_split():
    """The post's split: half of iris for training, ``random_state=0``."""
    from sklearn.model_selection import train_test_split

    frame = iris_frame()
    X = frame[IRIS_COLUMNS].to_numpy()
    y = frame["species"].to_numpy()
    return train_test_split(X, y, train_size=0.5, random_state=0)


def run_seed(random_state: int = 0, settings: TimingSettings | None = None, progress=print) -> list[dict]:
    """Fit and time each row's model on the post's split.

    Returns
    -------
    list of dict
        One per model: accuracy, fit seconds, first (cold) predict, and
        single-sample predict latency (median of many calls after warm-up)
        through the adapter and through the stock API.
    """
    settings = settings or TimingSettings(batch_sizes=(1,), throughput_budget_s=0.01)
    X_train, X_test, y_train, y_test = seed_split()
    split = Split(X_train, X_test, y_train, y_test)
    rows = []
    for name, profile, label in ROWS:
        key = f"{name}/{profile}" if profile else name
        info = describe(name)
        row = {"model": label, "adapter": key, "post accuracy": POST_ACCURACY.get(key)}
        if not info.available:
            rows.append({**row, "note": f"unavailable: {info.reason}"})
            continue
        progress(f"  fitting {key} ...")
        clf = make_adapter(name, profile=profile, random_state=random_state)
        # An untimed one-epoch fit first: the framework's one-time start-up
        # (lazy init, kernel selection) is not part of training this model.
        short = {"epochs": 1} if "epochs" in clf.get_params() else {}
        make_adapter(name, profile=profile, random_state=random_state, **short).fit(X_train, y_train)
        m = measure_trial(clf, split, settings)
        rows.append(
            {
                **row,
                "accuracy": m["accuracy"],
                "fit s": m["fit_wall_s"],
                "first predict ms": m["cold_predict_s"] * 1e3,
                "predict p50 us": m["latency"]["p50_us"],
                "stock predict p50 us": m["stock_latency"]["p50_us"],
                "note": "; ".join(w.split(":")[0] for w in m["warnings"]),
            }
        )
    return rows


def format_seed_table(rows: list[dict]) -> str:
    """The seed table as GitHub Markdown (tabulate)."""
    headers = [
        "model",
        "post accuracy",
        "accuracy",
        "fit s",
        "first predict ms",
        "predict p50 us",
        "stock predict p50 us",
        "note",
    ]
    from .report import fmt

    body = [[fmt(r.get(h)) if r.get(h) is not None else "" for h in headers] for r in rows]
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


def seed_report(rows: list[dict], seconds: float, threads: dict) -> str:
    """The whole printout: table, where the numbers come from, how to read them."""
    lines = [
        "The 2016 blog post's experiment (iris, train_test_split(train_size=0.5, random_state=0)), run again.",
        "'post accuracy' is what the post printed; every other number was measured just now.",
        "",
        format_seed_table(rows),
        "",
        "Latency: one sample, median over many calls after a warm-up; 'stock' = the framework's",
        "plain predict API (Keras model.predict, torch module call with autograd on).",
        "The 2016 row shows where the post's 0.83 came from: today's LogisticRegressionCV defaults",
        "(multinomial, lbfgs) score higher on the same split. One split cannot rank models:",
        "`bench run` repeats this over many seeded splits, `bench report` tests the differences.",
        f"Threads: {threads}. Took {seconds:.0f} s.",
    ]
    return "\n".join(lines)
