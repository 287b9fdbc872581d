"""The data scientist's training script of the walkthrough: three models, one tracked run each.

    CHARTER_URL=http://127.0.0.1:8787 CHARTER_TOKEN=chr_... python -m charter.demo.train team-a-dev

It reads the bank data shared with the account from the lake through governed SQL (the
grants' row filter and masks apply: EU customers only, their PII masked, so the script
never sees it), inside each run, so that every run records the tables and snapshots it
read. The question: is a customer a private-banking or small-business client, from how
they paid in their first month (January 2024)? Features are per-customer aggregates of
those payments and the birth year; the `gender` column is left out on purpose. Three
scikit-learn classifiers are trained on the same split, each in its own run (params, and
the fitted model's test scores as metrics); the best by ROC AUC is registered in the
account's registry as a new version of `bank-segment` (skops and ONNX, with its
signature), where it waits for the team lead's approval.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from charter.sdk import Client

EXPERIMENT = "bank-segment"
MODEL_GROUP = "bank-segment"
SEED = 4711
FEATURES = ("payments", "total_amount", "mean_amount", "max_amount", "travel_share",
            "online_share", "birth_year")
# Per-customer aggregates of January's payments in the shared tables: what the grants let
# through (EU rows, PII masked), nothing more.
SQL = """
SELECT c.customer_id, c.birth_year, c.segment,
       count(*) AS payments,
       sum(t.amount) AS total_amount,
       avg(t.amount) AS mean_amount,
       max(t.amount) AS max_amount,
       avg(CASE WHEN t.merchant_category = 'travel' THEN 1.0 ELSE 0.0 END) AS travel_share,
       avg(CASE WHEN t.merchant_category = 'online' THEN 1.0 ELSE 0.0 END) AS online_share
FROM bank.transactions t JOIN bank.customers c USING (customer_id)
WHERE t.ts < '2024-02-01'
GROUP BY c.customer_id, c.birth_year, c.segment
ORDER BY c.customer_id
"""
CANDIDATES = {
    "logistic-regression": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)),
        {"C": 0.5, "scaled": True}),
    "random-forest": (
        lambda: RandomForestClassifier(n_estimators=100, max_depth=4, random_state=SEED),
        {"n_estimators": 100, "max_depth": 4}),
    "gradient-boosting": (
        lambda: GradientBoostingClassifier(n_estimators=50, max_depth=2, learning_rate=0.1,
                                           random_state=SEED),
        {"n_estimators": 50, "max_depth": 2, "learning_rate": 0.1}),
}


def dataset(client: Client, account: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (1: a private-banking or small-business client)."""
    table = client.lake.query(account, SQL).to_pydict()
    features = np.column_stack([np.asarray(table[name], dtype=np.float64)
                                for name in FEATURES])
    labels = np.asarray([s in ("private", "small-business") for s in table["segment"]],
                        dtype=np.int64)
    return features, labels


def train(client: Client, account: str) -> tuple[str, str, float]:
    """One run per candidate; (best candidate, its run id, its ROC AUC)."""
    scores: dict[str, tuple[str, float]] = {}
    fitted = {}
    for name, (build, params) in CANDIDATES.items():
        with client.runs.start(account, EXPERIMENT, name=name,
                               tags={"purpose": "segment-classifier"}) as run:
            X, y = dataset(client, account)  # recorded as the run's inputs
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.3, random_state=SEED, stratify=y)
            model = build().fit(X_train, y_train)
            proba = model.predict_proba(X_test)[:, 1]
            predicted = (proba >= 0.5).astype(np.int64)
            metrics = {"roc_auc": float(roc_auc_score(y_test, proba)),
                       "accuracy": float(accuracy_score(y_test, predicted)),
                       "f1": float(f1_score(y_test, predicted))}
            run.log_params({"model": name, "features": ",".join(FEATURES),
                            "rows": len(y), "test_size": 0.3, **params})
            run.log_metrics(metrics)
            scores[name] = (run.id, metrics["roc_auc"])
            fitted[name] = (model, X_test[:5])
            print(f"{name:<20} run {run.id}  roc_auc {metrics['roc_auc']:.3f}  "
                  f"accuracy {metrics['accuracy']:.3f}  f1 {metrics['f1']:.3f}  "
                  f"({len(y)} customers)", flush=True)
    best = max(scores, key=lambda n: scores[n][1])
    run_id, auc = scores[best]
    model, sample = fitted[best]
    try:
        client.models.group(account, MODEL_GROUP)
    except Exception as error:
        if getattr(error, "code", None) != "model_group_not_found":
            raise
        client.models.create_group(account, MODEL_GROUP,
                                   description="Private-banking or small-business client?")
    version = client.models.register(account, MODEL_GROUP, model, run_id=run_id,
                                     X_sample=sample, description=f"{best}, ROC AUC {auc:.3f}")
    print(f"best: {best} (run {run_id}); registered {MODEL_GROUP} version "
          f"{version.version}, {version.approval_status}, files "
          f"{', '.join(f.path for f in version.files)}", flush=True)
    return best, run_id, auc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("account", help="The account to track and register in.")
    args = parser.parse_args()
    url, token = os.environ.get("CHARTER_URL"), os.environ.get("CHARTER_TOKEN")
    if not url or not token:
        print("set CHARTER_URL and CHARTER_TOKEN", file=sys.stderr)
        return 2
    with Client(url, token) as client:
        train(client, args.account)
    return 0


if __name__ == "__main__":
    sys.exit(main())
