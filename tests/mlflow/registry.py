"""MLflow 3's log_model and registry against Vouch: a pyfunc model logged and registered,
an alias moved by a passing gate, one a failing gate refuses, and a guarded alias of a
model whose policy asks for a review. Prints one JSON line; with `resolve MODEL ALIAS`
prints the version an alias names."""
import json
import sys

import mlflow
import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


class Scorer(mlflow.pyfunc.PythonModel):
    """Scores every row with one number: each run's model is a different file."""

    def __init__(self, score):
        self.score = score

    def predict(self, context, model_input, params=None):
        return [self.score for _ in model_input]


c = MlflowClient()
if len(sys.argv) > 1 and sys.argv[1] == "resolve":
    try:
        print(json.dumps({"version": c.get_model_version_by_alias(sys.argv[2], sys.argv[3]).version}))
    except MlflowException as e:
        print(json.dumps({"error": e.error_code}))
    sys.exit(0)

out = {}
mlflow.set_experiment("churn-registry")


def train(name, metrics, model):
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_metrics(metrics)
        score = metrics.get("auc", metrics.get("recall_at_1pct_fpr"))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Scorer(score), registered_model_name=model, pip_requirements=[]
        )
    return run.info.run_id, info


good, good_info = train("good", {"auc": 0.93}, "churn")
bad, _ = train("bad", {"auc": 0.61}, "churn")
out["model_uri"] = good_info.model_uri
versions = {v.run_id: v.version for v in c.search_model_versions("name='churn'")}
out["versions"] = sorted(versions.values())
out["status"] = c.get_model_version("churn", versions[good]).status
out["loaded"] = list(mlflow.pyfunc.load_model(f"runs:/{good}/model").predict([1, 2]))
# A passing gate moves the guarded alias.
c.set_registered_model_alias("churn", "champion", versions[good])
out["champion"] = c.get_model_version_by_alias("churn", "champion").version
out["champion_loaded"] = list(mlflow.pyfunc.load_model("models:/churn@champion").predict([1]))
# A failing gate refuses, with the gate table; the alias stays.
try:
    c.set_registered_model_alias("churn", "champion", versions[bad])
    out["refused"] = None
except MlflowException as e:
    out["refused"] = {"code": e.error_code, "message": e.message}
out["champion_after"] = c.get_model_version_by_alias("churn", "champion").version
# An unguarded alias moves freely.
c.set_registered_model_alias("churn", "challenger", versions[bad])
out["challenger"] = c.get_model_version_by_alias("churn", "challenger").version
c.delete_registered_model_alias("churn", "challenger")
try:
    c.get_model_version_by_alias("churn", "challenger")
    out["challenger_gone"] = False
except MlflowException:
    out["challenger_gone"] = True
try:
    c.delete_registered_model_alias("churn", "champion")
    out["champion_delete"] = "accepted"
except MlflowException as e:
    out["champion_delete"] = e.error_code
# A model whose policy always asks for a review.
fraud = {
    "recall_at_1pct_fpr": 0.86,
    "cost_per_1k": 0.70,
    "equal_opportunity_gap": 0.02,
    "latency_p99_ms": 31.0,
}
review, _ = train("needs-review", fraud, "fraud-detector")
v = [x.version for x in c.search_model_versions("name='fraud-detector'") if x.run_id == review][0]
try:
    c.set_registered_model_alias("fraud-detector", "champion", v)
    out["review"] = None
except MlflowException as e:
    out["review"] = {"code": e.error_code, "message": e.message}
out["review_version"] = v
out["review_run"] = review
out["good_run"] = good
print(json.dumps(out))
