"""A training script written for MLflow, unchanged but for MLFLOW_TRACKING_URI: params,
metrics with steps, a NaN, tags, a dataset input, artifacts through the proxy, a nested
run, a failed run, then reading it all back. Prints one JSON line of what it saw."""
import json
import sys

import mlflow
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

out = {}
mlflow.set_experiment("churn")
with mlflow.start_run(run_name="gbm-a") as run:
    mlflow.log_param("lr", 0.1)
    mlflow.log_params({"depth": 6, "trees": 100})
    mlflow.log_param("lr", 0.1)  # the same value again is no change
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"auc": 0.91, "latency_ms": 40.0})
    mlflow.log_metric("diverged", float("nan"))
    mlflow.set_tag("team", "risk")
    mlflow.set_tag("stage", "wip")
    source = HTTPDatasetSource("https://data.example/churn/valid.parquet")
    mlflow.log_input(MetaDataset(source=source, name="churn-valid"), context="validation")
    mlflow.log_dict({"features": ["tenure", "plan"]}, "config/features.json")
    mlflow.log_text("trained on november data", "notes.txt")
    with mlflow.start_run(run_name="fold-1", nested=True) as child:
        mlflow.log_metric("auc", 0.88)
    try:
        mlflow.log_param("lr", 0.2)
        out["param_change"] = "accepted"
    except MlflowException as e:
        out["param_change"] = e.error_code
rid = run.info.run_id
try:
    with mlflow.start_run(run_name="broken"):
        mlflow.log_metric("auc", 0.2)
        raise RuntimeError("out of memory")
except RuntimeError:
    pass

c = MlflowClient()
r = c.get_run(rid)
out["run_id"] = rid
out["experiment_id"] = run.info.experiment_id
out["child_parent"] = c.get_run(child.info.run_id).data.tags.get("mlflow.parentRunId")
out["status"] = r.info.status
out["metrics"] = {k: (None if v != v else v) for k, v in r.data.metrics.items()}
out["nan_kept"] = r.data.metrics["diverged"] != r.data.metrics["diverged"]
out["params"] = r.data.params
out["user"] = r.info.user_id
out["datasets"] = [
    (d.dataset.name, [t.value for t in d.tags]) for d in r.inputs.dataset_inputs
]
out["history"] = [(m.step, m.value) for m in c.get_metric_history(rid, "loss")]
out["artifacts"] = sorted((a.path, a.is_dir) for a in c.list_artifacts(rid))
out["config"] = [(a.path, a.file_size) for a in c.list_artifacts(rid, "config")]
out["notes"] = open(c.download_artifacts(rid, "notes.txt", sys.argv[1])).read()
exp = [run.info.experiment_id]
out["search_auc"] = sorted(x.info.run_name for x in c.search_runs(exp, "metrics.auc > 0.85"))
out["search_tag"] = [
    x.info.run_name
    for x in c.search_runs(exp, "params.lr = '0.1' and tags.team = 'risk' and attributes.status = 'FINISHED'")
]
out["search_failed"] = [x.info.run_name for x in c.search_runs(exp, "status = 'FAILED'")]
out["ordered"] = [
    x.info.run_name for x in c.search_runs(exp, "", order_by=["metrics.auc DESC"])
]
try:
    c.search_runs(exp, "metrics.auc > '0.8'")
    out["bad_filter"] = "accepted"
except MlflowException as e:
    out["bad_filter"] = e.error_code
c.set_tag(rid, "team", "risk-2")
c.delete_tag(rid, "stage")
c.delete_run(child.info.run_id)
out["after_delete"] = sorted(x.info.run_name for x in c.search_runs(exp, ""))
c.restore_run(child.info.run_id)
out["after_restore"] = sorted(x.info.run_name for x in c.search_runs(exp, ""))
out["tags"] = {k: v for k, v in c.get_run(rid).data.tags.items() if not k.startswith("mlflow.")}
try:
    c.get_run("0" * 32)
    out["unknown_run"] = "found"
except MlflowException as e:
    out["unknown_run"] = e.error_code
out["experiments"] = sorted(e.name for e in mlflow.search_experiments())
out["experiment_found"] = [e.name for e in mlflow.search_experiments(filter_string="name LIKE 'chu%'")]
print(json.dumps(out))
