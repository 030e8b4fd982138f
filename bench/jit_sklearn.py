"""Recomputes the ApacheJIT bench's overall figures with scikit-learn from the
predictions the bench wrote, and fails if any differs from Bearing's by more
than 1e-9: ROC AUC (roc_auc_score), PR AUC (average_precision_score), Brier
(brier_score_loss) and F1 at log-odds 0 (f1_score).

  jit_sklearn.py PREDICTIONS.csv FIGURES.json
  jit_sklearn.py --stdin   # {"cases": [{"labels", "probs", "logits"}]} -> {"results": [...]}
"""
import csv
import json
import sys

from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, roc_auc_score


def figures(y, p, s):
    return {
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "brier": brier_score_loss(y, p),
        "f1": f1_score(y, [1 if v >= 0 else 0 for v in s]),
    }


if sys.argv[1] == "--stdin":
    doc = json.load(sys.stdin)
    out = [figures(c["labels"], c["probs"], c["logits"]) for c in doc["cases"]]
    json.dump({"results": out}, sys.stdout)
    sys.exit(0)

preds_path, figures_path = sys.argv[1], sys.argv[2]
by_model = {}
with open(preds_path) as f:
    for r in csv.DictReader(f):
        m = by_model.setdefault(r["model"], ([], [], []))
        m[0].append(int(r["label"]))
        m[1].append(float(r["prob"]))
        m[2].append(float(r["logit"]))
bearing = json.load(open(figures_path))
bad = 0
for model, (y, p, s) in sorted(by_model.items()):
    ours = bearing[model]
    ref = figures(y, p, s)
    for k, v in ref.items():
        d = abs(ours[k] - v)
        ok = d <= 1e-9
        bad += not ok
        print(f"{model:<14} {k:<8} bearing {ours[k]:.12f}  scikit-learn {v:.12f}  {'ok' if ok else 'DIFFERS'}")
sys.exit(1 if bad else 0)
