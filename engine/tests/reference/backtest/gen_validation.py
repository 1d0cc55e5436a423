"""Reference splits for engine::backtest::validation (skfolio 1.12, scikit-learn, and AFML purging in pandas).

Three sources, each independent of the Rust code:
- skfolio `WalkForward(train_size, test_size, purged_size, expand_train, reduce_test)` for walk-forward;
  skfolio always steps by test_size, so only step = test is covered here.
- skfolio `CombinatorialPurgedCV(n_folds, n_test_folds, purged_size, embargo_size)`: split() train indices,
  the per-group test lists and get_path_ids(). Our CPCV purges by label end; with
  label_end[i] = min(i + purged_size, n - 1) the two definitions coincide, and this script asserts that its own
  AFML implementation (below) reproduces skfolio before writing anything.
- AFML purging written out here with pandas, after López de Prado (2018) Snippets 7.1/7.2: a training
  observation is dropped when its label interval [i, t1[i]] starts inside, ends inside, or envelops the
  (embargo-stretched) interval [j, t1[j] + embargo] of some test observation j. It is applied one test
  observation at a time, exactly as written, for irregular label ends the skfolio setting cannot express.
- scikit-learn `KFold(k)` (no shuffle) for purged k-fold without purging or embargo (fold sizes, complement).

Index sets are written as lists of [start, end) ranges. Run: python3 gen_validation.py (writes validation.json).
"""

import json
import os

import numpy as np
import pandas as pd
import sklearn
import skfolio
from sklearn.model_selection import KFold
from skfolio.model_selection import CombinatorialPurgedCV, WalkForward

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "validation.json")


def ranges(idx):
    idx = sorted(int(i) for i in idx)
    out = []
    for i in idx:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def afml_train(n, t1, test_idx, embargo):
    """Snippet 7.1 getTrainTimes on integer bar times, with every test label stretched by `embargo` bars."""
    trn = pd.Series(t1, index=np.arange(n))
    test_times = pd.Series([min(t1[j] + embargo, n - 1) for j in test_idx], index=list(test_idx))
    for i, j in test_times.items():
        df0 = trn[(i <= trn.index) & (trn.index <= j)].index  # train starts within test
        df1 = trn[(i <= trn) & (trn <= j)].index  # train ends within test
        df2 = trn[(trn.index <= i) & (j <= trn)].index  # train envelops test
        trn = trn.drop(df0.union(df1).union(df2))
    train = set(trn.index.tolist()) - set(test_idx)
    return sorted(int(i) for i in train)


def fixed_label_end(n, h):
    return [min(i + h, n - 1) for i in range(n)]


def random_label_end(n, max_h, seed):
    rng = np.random.default_rng(seed)
    return [int(min(i + rng.integers(0, max_h + 1), n - 1)) for i in range(n)]


# ---------------------------------------------------------------- walk-forward (skfolio)
walk_forward = []
for n, train, test, purge, expand, reduce in [
    (6, 2, 1, 0, False, False),  # skfolio docstring example
    (6, 2, 1, 1, False, False),
    (6, 3, 2, 0, False, True),
    (6, 3, 2, 0, True, True),
    (100, 30, 10, 0, False, False),
    (100, 30, 7, 3, False, False),
    (100, 30, 7, 3, False, True),
    (100, 30, 7, 3, True, False),
    (100, 30, 7, 2, True, True),
    (2148, 504, 63, 5, False, True),  # two years train, a quarter test, on GOOG's length
    (2148, 252, 21, 1, True, False),
]:
    cv = WalkForward(test_size=test, train_size=train, purged_size=purge, expand_train=expand, reduce_test=reduce)
    X = np.zeros((n, 1))
    splits = [{"train": ranges(tr), "test": ranges(te)} for tr, te in cv.split(X)]
    walk_forward.append(
        dict(n=n, train=train, test=test, gap=purge, anchored=expand, reduce_test=reduce, splits=splits)
    )

# ---------------------------------------------------------------- purged k-fold
kfold = []
for n, k in [(10, 3), (101, 5), (250, 7)]:
    splits = [{"train": ranges(tr), "test": ranges(te)} for tr, te in KFold(n_splits=k).split(np.zeros(n))]
    kfold.append(dict(source="sklearn KFold", n=n, k=k, label_end=list(range(n)), embargo=0, splits=splits))

for n, k, label_end, embargo, source in [
    (120, 4, fixed_label_end(120, 5), 3, "afml fixed horizon 5"),
    (200, 5, random_label_end(200, 12, 7), 4, "afml random horizons 0..12"),
    (157, 6, random_label_end(157, 20, 11), 0, "afml random horizons 0..20, no embargo"),
]:
    splits = []
    for te in np.array_split(np.arange(n), k):
        splits.append({"train": ranges(afml_train(n, label_end, te.tolist(), embargo)), "test": ranges(te)})
    kfold.append(dict(source=source, n=n, k=k, label_end=label_end, embargo=embargo, splits=splits))

# ---------------------------------------------------------------- CPCV
cpcv = []


def afml_cpcv(n, n_folds, n_test, label_end, embargo, groups, combos):
    out = []
    for combo in combos:
        test_idx = [i for g in combo for i in range(*groups[g])]
        out.append(
            {
                "train": ranges(afml_train(n, label_end, test_idx, embargo)),
                "test": [list(groups[g]) for g in combo],
            }
        )
    return out


for n, n_folds, n_test, purge, embargo in [
    (12, 3, 2, 0, 0),  # skfolio docstring examples
    (12, 3, 2, 1, 0),
    (12, 3, 2, 0, 1),
    (100, 6, 2, 3, 2),
    (203, 7, 3, 4, 1),
    (600, 10, 8, 5, 10),  # skfolio defaults n_folds=10, n_test_folds=8
]:
    cv = CombinatorialPurgedCV(n_folds=n_folds, n_test_folds=n_test, purged_size=purge, embargo_size=embargo)
    X = np.zeros((n, 1))
    sk_splits = [{"train": ranges(tr), "test": [ranges(t)[0] for t in tests]} for tr, tests in cv.split(X)]
    path_ids = cv.get_path_ids().tolist()
    test_groups = cv.test_set_index.tolist()
    size = n // n_folds
    groups = [(g * size, n if g == n_folds - 1 else (g + 1) * size) for g in range(n_folds)]
    label_end = fixed_label_end(n, purge)
    mine = afml_cpcv(n, n_folds, n_test, label_end, embargo, groups, test_groups)
    assert mine == sk_splits, f"AFML purging disagrees with skfolio for {(n, n_folds, n_test, purge, embargo)}"
    cpcv.append(
        dict(
            source="skfolio CombinatorialPurgedCV",
            n=n,
            n_groups=n_folds,
            n_test_groups=n_test,
            label_end=label_end,
            embargo=embargo,
            groups=[list(g) for g in groups],
            test_groups=test_groups,
            path_ids=path_ids,
            n_paths=int(cv.n_test_paths),
            splits=sk_splits,
        )
    )

for n, n_folds, n_test, max_h, embargo, seed in [(150, 6, 2, 9, 3, 3), (211, 5, 3, 15, 0, 5)]:
    label_end = random_label_end(n, max_h, seed)
    size = n // n_folds
    groups = [(g * size, n if g == n_folds - 1 else (g + 1) * size) for g in range(n_folds)]
    cv = CombinatorialPurgedCV(n_folds=n_folds, n_test_folds=n_test)
    test_groups = cv.test_set_index.tolist()
    cpcv.append(
        dict(
            source=f"afml random horizons 0..{max_h}",
            n=n,
            n_groups=n_folds,
            n_test_groups=n_test,
            label_end=label_end,
            embargo=embargo,
            groups=[list(g) for g in groups],
            test_groups=test_groups,
            path_ids=cv.get_path_ids().tolist(),
            n_paths=int(cv.n_test_paths),
            splits=afml_cpcv(n, n_folds, n_test, label_end, embargo, groups, test_groups),
        )
    )

doc = {
    "versions": {"skfolio": skfolio.__version__, "sklearn": sklearn.__version__, "pandas": pd.__version__},
    "walk_forward": walk_forward,
    "purged_kfold": kfold,
    "cpcv": cpcv,
}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
