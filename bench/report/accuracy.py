"""Accuracy sections: intervals, paired tests (Holm-corrected as one family), effects.

Every interval on accuracy is the Nadeau-Bengio corrected one, over per-split
means (init seeds averaged within each split first: J is the number of
splits, never splits x init seeds); every test is the corrected resampled
t-test on per-split differences of records paired on the split's identity;
all the report's accuracy tests form one Holm family of distinct tests
(:mod:`hello_bench.analysis.family`), listed in the report; verdicts come from
:mod:`hello_bench.analysis.verdicts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from hello_bench.analysis import stats, verdicts
from hello_bench.analysis.family import Assessed, assess
from hello_bench.analysis.family import comparison_key as family_key
from hello_bench.analysis.pairing import Unpaired, pair, per_split, split_conflicts
from hello_bench.record import metrics, role
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt, fmt_ci, fmt_p

KEYS = ["dataset", "adapter", "device"]

CI_DEFINITION = (
    "Accuracy intervals and tests use the Nadeau-Bengio correction: the J splits overlap (their training sets share "
    "most rows), so the variance of a mean over splits is the sample variance x (1/J + n_test/n_train), not / J. "
    "The plain t-interval over such splits is several times too narrow and is not used anywhere. Init seeds are "
    "averaged within each split first, so every split counts once."
)


@dataclass
class Comparison:
    """One paired accuracy comparison (B against A), with the fit-time ratio on the same splits."""

    family: str
    dataset: str
    device: str
    a: str
    b: str
    test: stats.PairedTest | None
    mean_diff: float
    n: int
    fit_ratio: stats.RatioCI | None = None
    #: The test's identity in the family (its per-split differences): equal keys are one test.
    key: tuple = ()
    assessed: Assessed = field(default_factory=lambda: Assessed(math.nan, math.nan, math.nan))

    @property
    def p_holm(self) -> float:
        return self.assessed.p_holm


@dataclass
class Tested:
    """The report's accuracy comparisons as one Holm family."""

    comparisons: list[Comparison]
    m: int
    level: float
    margin: float | None = None
    unpaired: list[Unpaired] = field(default_factory=list)


def _n(g: pd.DataFrame, column: str) -> int:
    return int(pd.to_numeric(g[column], errors="coerce").dropna().iloc[0])


def accuracy_table(doc: Doc, ok: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per dataset x adapter x device with its corrected interval, then every other quality metric of the
    registry (macro-F1, log loss, plugins'); returns the accuracy numbers."""
    doc.para(CI_DEFINITION)
    quality = role("accuracy")
    others = [(m, c) for m in metrics() if m.table == "quality" and m is not quality for c in m.expand(ok.columns)]
    rows, out = [], []
    splits = per_split(ok, KEYS, quality.column)
    for key, g in splits.groupby(KEYS, sort=True):
        ci = stats.corrected_mean_ci(g[quality.column], _n(g, "n_train"), _n(g, "n_test"), bounds=quality.valid)
        raw = ok[(ok["dataset"] == key[0]) & (ok["adapter"] == key[1]) & (ok["device"] == key[2])]
        inits = int(g["n_inits"].max())
        interval = (
            fmt_ci(ci.mean, ci.low, ci.high)
            if ci.n < 2 or math.isfinite(ci.low)
            else f"{ci.mean:.3g} (the same on every split: no interval)"
        )
        rows.append([*key, ci.n, inits, interval, *(fmt(raw[c].mean()) for _, c in others)])
        out.append(
            {"dataset": key[0], "adapter": key[1], "device": key[2], "mean": ci.mean, "low": ci.low, "high": ci.high}
        )
    headers = ["dataset", "adapter", "device", "splits", "init seeds per split",
               f"{quality.label} mean [corrected 95% CI]", *(m.name(c) for m, c in others)]  # fmt: skip
    doc.table(headers, rows, "quality")
    return pd.DataFrame(out)


def variance_components(doc: Doc, ok: pd.DataFrame) -> None:
    """Split vs init-seed variation (Bouthillier et al. 2021), where several init seeds ran per split."""
    rows = []
    column = role("accuracy").column
    inits = ok.dropna(subset=[column]).groupby([*KEYS, "split_seed"]).size()
    several = inits[inits >= 2].reset_index()[KEYS].drop_duplicates()  # only where a split has several init seeds
    for key, g in ok.merge(several, on=KEYS).groupby(KEYS, sort=True):
        by_split = {s: h[column].dropna().tolist() for s, h in g.groupby("split_seed")}
        vc = stats.variance_components(by_split)
        rows.append(
            [
                *key,
                vc.n_splits,
                vc.n_inits,
                fmt(vc.split_sd),
                fmt(vc.init_sd),
                f"{vc.init_share:.0%}" if math.isfinite(vc.init_share) else "-",
            ]
        )
    if rows:
        doc.heading("Where the variation comes from: split vs initialisation", 3)
        doc.para("Each split was trained with several init seeds (the same seeds on every split), so the accuracy's "
                 "variation splits into a part due to which rows are in the test set and a part due to the model's "
                 "random start (one-way random effects). The tests above average init seeds within a split.")  # fmt: skip
        doc.table(
            [
                "dataset",
                "adapter",
                "device",
                "splits",
                "init seeds",
                "sd from splits",
                "sd from init",
                "init share of variance",
            ],
            rows,
            "variance",
        )


def _compare(family: str, key: tuple, a_rows: pd.DataFrame, b_rows: pd.DataFrame, a: str, b: str) -> Comparison | None:
    joined = pair(a_rows, b_rows, [], role("accuracy").column)
    if joined.empty:
        return None
    diffs = (joined["b"] - joined["a"]).to_numpy()
    n_train, n_test = int(joined["n_train"].iloc[0]), int(joined["n_test"].iloc[0])
    test = stats.corrected_resampled_ttest(diffs, n_train, n_test) if len(diffs) >= 2 else None
    fit = pair(a_rows, b_rows, [], role("fit").column)
    ratio = stats.ratio_ci(fit["a"].to_numpy(), fit["b"].to_numpy()) if len(fit) else None
    splits = list(zip(joined["split_seed"], joined["test_rows_sha"].astype(str)))
    ident = (key[0], key[1], *family_key(splits, diffs, n_train, n_test))
    return Comparison(family, key[0], key[1], a, b, test, float(diffs.mean()), len(diffs), ratio, ident)


def _plain(name: object, profile: str, params: object) -> bool:
    """No explicit parameter overrides: the resolved parameters are the profile's, as the adapter declares them."""
    import json

    from hello_bench.adapters import profile_params

    if not isinstance(params, (str, dict)):  # no parameters recorded: nothing says they were overridden
        return True
    try:
        declared = profile_params(str(name), profile or None)
        given: dict = json.loads(params) if isinstance(params, str) else dict(params)
    except Exception:  # an adapter this process cannot load, or no parameters recorded: assume none were given
        return True
    given = {k: v for k, v in given.items() if k != "backend"}
    return given == {k: v for k, v in declared.items() if k != "backend"}


def adapter_meta(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per adapter label, from record fields: name, profile and its stock profile, backend, model, framework."""
    cols = [c for c in ("adapter", "adapter_name", "profile", "stock_profile", "backend", "model", "framework", "params")
            if c in ok.columns]  # fmt: skip
    meta = ok[cols].drop_duplicates("adapter").set_index("adapter")
    for col in ("adapter_name", "profile", "stock_profile", "backend", "model", "framework", "params"):
        if col not in meta.columns:
            meta[col] = None
    meta["profile"] = meta["profile"].fillna("")
    meta["stock_profile"] = meta["stock_profile"].fillna("")
    meta["plain"] = [_plain(n, p, q) for n, p, q in zip(meta["adapter_name"], meta["profile"], meta["params"])]
    #: The framework's stock use of the model: the profile the adapter declares as stock (or its defaults).
    meta["stock"] = meta["plain"] & (meta["profile"] == meta["stock_profile"])
    return meta


def stock_setting(meta: pd.DataFrame, adapter: str) -> str | None:
    """The stock setting of the same adapter name and backend (record fields); None if none or ``adapter`` is it."""
    row = meta.loc[adapter]
    same = meta[(meta["adapter_name"] == row["adapter_name"]) & (meta["backend"].astype(str) == str(row["backend"]))
                & meta["stock"]]  # fmt: skip
    return str(same.index[0]) if len(same) and same.index[0] != adapter else None


def comparison_pairs(ok: pd.DataFrame, baseline: str) -> list[tuple[str, str, str]]:
    """(family, A, B) label pairs: against the baseline, stock vs tuned, model and framework effects."""
    meta = adapter_meta(ok)
    out = [("baseline", baseline, b) for b in meta.index if b != baseline]
    tuned = meta["plain"] & ~meta["stock"] & (meta["profile"] != "") & (meta["stock_profile"] != "")
    for b in meta.index[tuned]:
        a = stock_setting(meta, b)
        if a is not None:
            out.append(("tuned", a, b))
    stock = meta[meta["stock"]]
    for _, g in stock.groupby(["framework", "backend"], dropna=False):
        by_model = g.reset_index().sort_values(["model", "profile"]).drop_duplicates("model")
        for b in by_model["adapter"].iloc[1:]:
            out.append(("model", by_model["adapter"].iloc[0], b))
    first = meta.loc[baseline, "framework"] if baseline in meta.index else None  # the baseline's framework is A
    for _, g in stock[stock["stock_profile"] != ""].groupby("model"):
        g = g.reset_index().sort_values(["framework", "backend"], key=lambda s: s.map(lambda v: (v != first, str(v))))
        for b in g["adapter"].iloc[1:]:
            out.append(("framework", g["adapter"].iloc[0], b))
    return out


def comparisons(ok: pd.DataFrame, baseline: str, margin: float | None = None) -> Tested:
    """Every accuracy comparison the report makes, Holm-adjusted as one family of distinct tests."""
    out = []
    for family, a, b in comparison_pairs(ok, baseline):
        for key, g in ok[ok["adapter"].isin([a, b])].groupby(["dataset", "device"], sort=True):
            comparison = _compare(family, key, g[g["adapter"] == a], g[g["adapter"] == b], a, b)
            if comparison is not None:
                out.append(comparison)
    fam = assess([c.test for c in out], [c.key for c in out], margin)
    for c, assessed in zip(out, fam.assessed):
        c.assessed = assessed
    return Tested(out, fam.m, fam.level, margin, split_conflicts(ok))


def _verdict(c: Comparison) -> str:
    return verdicts.accuracy_verdict(c.test, c.p_holm, c.assessed.detectable, c.b)


def _equivalence(c: Comparison, margin: float | None) -> list[str]:
    return [] if margin is None else [verdicts.equivalence_verdict(c.test, c.assessed.p_equivalent, margin)]


def _accuracy_ci(c: Comparison) -> str:
    """The accuracy difference B - A with its corrected interval; none for a constant difference."""
    t = c.test
    return "-" if t is None or t.constant else fmt_ci(t.mean_diff, t.low, t.high, signed=True)


def _fit_cells(c: Comparison) -> list[str]:
    """The fit-time ratio B/A with its interval, and its verdict."""
    fit = c.fit_ratio
    return [fmt_ci(fit.ratio, fit.low, fit.high), verdicts.ratio_verdict(fit)] if fit else ["-", "-"]


def _margin_header(tested: Tested) -> list[str]:
    return [] if tested.margin is None else [f"equivalent within ±{tested.margin:g} (TOST, Holm)"]


def significance(doc: Doc, tested: Tested, baseline: str) -> None:
    rows, small = [], []
    for c in (c for c in tested.comparisons if c.family == "baseline"):
        t = c.test
        if t is None:
            rows.append([c.dataset, c.device, c.b, f"{c.mean_diff:+.3f}", "-", "-", "-", c.n, "-", _verdict(c),
                         *_equivalence(c, tested.margin)])  # fmt: skip
            continue
        detectable = c.assessed.detectable
        rows.append([c.dataset, c.device, c.b, _accuracy_ci(c), fmt_p(t.p), fmt_p(c.p_holm), f"{t.wins}/{t.ties}/{t.losses}",
                     t.n_splits, fmt(detectable), _verdict(c), *_equivalence(c, tested.margin)])  # fmt: skip
        if not t.constant and not c.p_holm < stats.ALPHA and math.isfinite(detectable):
            small.append(detectable)
    doc.table(["dataset", "device", "adapter", f"accuracy - {baseline} [95% CI]", "p", "p (Holm)", "won/tied/lost", "splits",
               f"detectable (80% power, alpha/{max(tested.m, 1)})", "verdict", *_margin_header(tested)], rows, "significance")  # fmt: skip
    if small:
        doc.para(
            "'Not significant' here is not 'equal': with these splits and this family, a difference must be at least "
            f"{min(small):.2g}{'' if min(small) == max(small) else f'-{max(small):.2g}'} in accuracy to be detected 80% of the time "
            f"at alpha/m = {tested.level:.2g} (estimated from the observed spread). More splits help little (the splits "
            "overlap: the n_test/n_train term of the variance does not shrink); more test rows per split (a larger "
            "dataset) or more datasets do. Give `--equivalence-margin` to test whether the differences are within a "
            "margin that does not matter to you (TOST)."
        )
    if tested.unpaired:
        doc.para("**Never paired** (the same split seed, but not the same split: these records are left out of every "
                 "comparison, not averaged in):")  # fmt: skip
        doc.bullets([u.describe() for u in tested.unpaired])


def family_table(doc: Doc, tested: Tested) -> None:
    """Which tests the Holm family holds, how many, and which comparisons each one stands for."""
    groups: dict[tuple, list[Comparison]] = {}
    for c in tested.comparisons:
        if c.test is not None and not c.test.constant:
            groups.setdefault(c.key, []).append(c)
    families = sorted({c.family for c in tested.comparisons})
    doc.para(verdicts.family_sentence(len(tested.comparisons), tested.m, families))
    rows = []
    for i, members in enumerate(groups.values(), start=1):
        first = members[0]
        t = first.test
        assert t is not None
        names = "; ".join(f"{c.family}: {c.b} - {c.a}" for c in members)
        rows.append([i, first.dataset, first.device, names, t.n_splits, fmt_p(t.p), fmt_p(first.p_holm)])
    doc.table(
        ["test", "dataset", "device", "comparisons (B - A) it stands for", "splits", "p", "p (Holm)"], rows, "family"
    )


def effects(doc: Doc, tested: Tested) -> None:
    """Model effect (one framework, two models) vs framework effect (one model, several frameworks)."""
    rows = []
    for c in (c for c in tested.comparisons if c.family in ("model", "framework")):
        rows.append([c.family, c.dataset, c.device, c.a, c.b, _accuracy_ci(c), fmt_p(c.p_holm), *_fit_cells(c), _verdict(c),
                     *_equivalence(c, tested.margin)])  # fmt: skip
    if not rows:
        return
    doc.heading("Model effect vs framework effect", 3)
    doc.para("Model effect: the same framework, a different model (logistic regression vs the MLP). Framework effect: "
             "the same model, trained the same way, in another framework (scikit-learn, Keras on each backend, "
             "PyTorch). Fit-time ratios are B/A over the same splits (t-interval on log ratios).")  # fmt: skip
    doc.table(["effect", "dataset", "device", "A", "B", "accuracy B - A [95% CI]", "p (Holm)", "fit time B/A [95% CI]",
               "time verdict", "accuracy verdict", *_margin_header(tested)], rows, "effects")  # fmt: skip


def tuned(doc: Doc, tested: Tested) -> None:
    """Stock (seed) vs tuned settings: the speed-up, and whether accuracy moved."""
    rows = []
    for c in (c for c in tested.comparisons if c.family == "tuned"):
        changed = verdicts.accuracy_changed(c.test, c.p_holm)
        flag = "ACCURACY CHANGED: tuned setting is not equivalent" if changed else _verdict(c)
        rows.append([c.dataset, c.device, c.b, *_fit_cells(c), _accuracy_ci(c), fmt_p(c.p_holm), flag,
                     *_equivalence(c, tested.margin)])  # fmt: skip
    if not rows:
        return
    doc.heading("Each framework at its best: stock vs tuned settings", 3)
    doc.para("`seed` is the post's settings on each framework's stock execution path; `tuned` keeps the same model, "
             "batches and epochs and changes only how the framework executes them (README, 'Each framework at its "
             "best'). A tuned setting that changes accuracy significantly is flagged, not hidden.")  # fmt: skip
    doc.table(["dataset", "device", "tuned adapter", "fit time tuned/seed [95% CI]", "time verdict",
               "accuracy tuned - seed [95% CI]", "p (Holm)", "accuracy verdict", *_margin_header(tested)], rows, "tuned")  # fmt: skip
