"""Reference values for engine::models::metrics, from scikit-learn (accuracy, balanced accuracy,
macro-F1, MCC) and numpy (multiclass Brier as Brier's original sum over classes, top-label ECE
over 15 equal-width bins as in Guo et al. 2017, directional accuracy).

Run: python3 engine/tests/reference/models/gen_metrics.py > engine/tests/reference/models/metrics.json
"""
import json

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, matthews_corrcoef


def ece(probs, truth, bins=15):
    conf = probs.max(axis=1)
    top = probs.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if lo == 0.0:
            inside |= conf == 0.0
        if inside.any():
            total += abs((top[inside] == truth[inside]).mean() - conf[inside].mean()) * inside.mean()
    return float(total)


def case(seed, n, skill, classes):
    rng = np.random.default_rng(seed)
    truth = rng.choice(classes, size=n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), truth] += skill
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    realised = rng.normal(size=n) * 0.01
    realised[rng.random(n) < 0.05] = 0.0
    predicted = realised * skill + rng.normal(size=n) * 0.01
    one_hot = np.eye(3)[truth]
    nz = realised != 0
    return {
        "truth": truth.tolist(),
        "probabilities": probs.tolist(),
        "predicted_returns": predicted.tolist(),
        "realised_returns": realised.tolist(),
        "expected": {
            "accuracy": accuracy_score(truth, pred),
            "balanced_accuracy": balanced_accuracy_score(truth, pred),
            "macro_f1": f1_score(truth, pred, average="macro"),
            "mcc": matthews_corrcoef(truth, pred),
            "brier": float(((probs - one_hot) ** 2).sum(axis=1).mean()),
            "ece": ece(probs, truth),
            "directional_accuracy": float(((predicted[nz] > 0) == (realised[nz] > 0)).mean()),
        },
    }


cases = [
    case(1, 500, 1.5, [0, 1, 2]),
    case(2, 300, 0.0, [0, 1, 2]),
    case(3, 200, 3.0, [0, 2]),
    case(4, 1000, 0.7, [0, 1, 2]),
    case(5, 50, -1.0, [1, 2]),
]
print(json.dumps({"generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", "cases": cases}))
