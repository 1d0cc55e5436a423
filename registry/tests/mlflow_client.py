"""Drives a tracking server with the official MLflow client (mlflow-skinny) and checks what a
user relies on. Usage: mlflow_client.py TRACKING_URI. Prints one JSON line of observations;
exits non-zero on the first failed check."""
import json
import sys

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient(tracking_uri=uri)
seen = {"mlflow": mlflow.__version__}


def error_code(fn):
    try:
        fn()
    except MlflowException as e:
        return e.error_code
    return None


# Experiments.
exp_id = client.create_experiment("sma-sweep", tags={"team": "quant"})
exp = client.get_experiment_by_name("sma-sweep")
assert exp.experiment_id == exp_id and exp.tags["team"] == "quant", exp
assert client.get_experiment("0").name == "Default"
seen["duplicate_experiment"] = error_code(lambda: client.create_experiment("sma-sweep"))
seen["missing_experiment"] = error_code(lambda: client.get_experiment("987654"))
assert client.get_experiment_by_name("no-such-experiment") is None

# Runs: params, metrics with steps, tags, a batch, termination.
sharpes = {}
for fast, slow, sharpe in [(5, 20, 0.4), (10, 20, 1.3), (10, 50, 0.9)]:
    run = client.create_run(exp_id, run_name=f"sma-{fast}-{slow}", tags={"strategy": "sma_cross"})
    rid = run.info.run_id
    client.log_param(rid, "fast", fast)
    client.log_param(rid, "slow", slow)
    for epoch in range(5):
        client.log_metric(rid, "loss", 1.0 / (epoch + 1), step=epoch)
    client.log_batch(rid, metrics=[Metric("sharpe", sharpe, 0, 0)], params=[Param("data", "GOOG")], tags=[RunTag("stage", "sweep")])
    client.set_terminated(rid, "FINISHED")
    sharpes[rid] = sharpe

got = client.get_run(rid)
assert got.info.status == "FINISHED" and got.info.end_time is not None, got.info
assert got.data.params == {"fast": "10", "slow": "50", "data": "GOOG"}, got.data.params
assert got.data.metrics["loss"] == 0.2, got.data.metrics
assert got.data.tags["stage"] == "sweep" and got.info.run_name == "sma-10-50"
history = client.get_metric_history(rid, "loss")
assert [m.step for m in history] == [0, 1, 2, 3, 4], history
seen["changed_param"] = error_code(lambda: client.log_param(rid, "fast", 99))
seen["same_param_again"] = error_code(lambda: client.log_param(rid, "fast", 10))
seen["missing_run"] = error_code(lambda: client.get_run("0" * 32))
# A batch naming a param twice is refused whole, as MLflow's server refuses it.
seen["duplicate_param_in_batch"] = error_code(
    lambda: client.log_batch(rid, params=[Param("window", "5"), Param("window", "5")], tags=[RunTag("half", "written")]))
after = client.get_run(rid).data
assert "window" not in after.params and "half" not in after.tags, after
# Several params and tags in one batch; a tag repeated in it keeps its last value.
client.log_batch(rid, params=[Param("p1", "a"), Param("p2", "b")], tags=[RunTag("t", "first"), RunTag("t", "last"), RunTag("u", "1")])
after = client.get_run(rid).data
assert after.params["p1"] == "a" and after.params["p2"] == "b" and after.tags["t"] == "last" and after.tags["u"] == "1", after

# Artifacts through the proxy: upload, list, download, text.
import os
import tempfile

with tempfile.TemporaryDirectory() as tmp:
    report = os.path.join(tmp, "report.txt")
    with open(report, "w") as f:
        f.write("sharpe 1.3\n")
    client.log_artifact(rid, report)
    client.log_artifact(rid, report, artifact_path="reports/daily")
    client.log_text(rid, "config: sma", "config.yaml")
    seen["artifacts"] = sorted((a.path, a.is_dir) for a in client.list_artifacts(rid))
    seen["nested"] = [a.path for a in client.list_artifacts(rid, "reports/daily")]
    local = client.download_artifacts(rid, "reports/daily/report.txt", tmp)
    with open(local) as f:
        seen["downloaded"] = f.read()

# Search with MLflow's grammar.
found = client.search_runs([exp_id], filter_string="metrics.sharpe > 0.5 and params.slow = '20'")
seen["filtered"] = [r.info.run_name for r in found]
ordered = client.search_runs([exp_id], order_by=["metrics.sharpe DESC"])
seen["ordered"] = [r.info.run_name for r in ordered]
page1 = client.search_runs([exp_id], max_results=2)
page2 = client.search_runs([exp_id], max_results=2, page_token=page1.token)
seen["paged"] = [len(page1), len(page2)]
seen["bad_filter"] = error_code(lambda: client.search_runs([exp_id], filter_string="metrics.sharpe >> 1"))

# The fluent API: a run in the default experiment.
with mlflow.start_run() as active:
    mlflow.log_param("seed", 7)
    mlflow.log_metric("accuracy", 0.61)
fluent = client.get_run(active.info.run_id)
assert fluent.info.experiment_id == "0" and fluent.data.params["seed"] == "7", fluent
assert fluent.info.status == "FINISHED"

# Deleting and restoring.
client.delete_run(rid)
assert len(client.search_runs([exp_id])) == 2
client.restore_run(rid)
assert len(client.search_runs([exp_id])) == 3

# The model registry: two versions, an alias promoted and moved, stages, errors.
model = client.create_registered_model("sma-cross", description="SMA crossover", tags={"owner": "quant"})
assert model.name == "sma-cross"
seen["duplicate_model"] = error_code(lambda: client.create_registered_model("sma-cross"))
run_ids = [r.info.run_id for r in ordered]
v1 = client.create_model_version("sma-cross", f"{ordered[0].info.artifact_uri}/model", run_id=run_ids[0])
v2 = client.create_model_version("sma-cross", f"{ordered[1].info.artifact_uri}/model", run_id=run_ids[1], tags={"data": "GOOG"})
assert (v1.version, v2.version, v2.status) == ("1", "2", "READY"), (v1, v2)
client.set_registered_model_alias("sma-cross", "champion", "1")
assert client.get_model_version_by_alias("sma-cross", "champion").version == "1"
client.set_registered_model_alias("sma-cross", "champion", "2")
champion = client.get_model_version_by_alias("sma-cross", "champion")
seen["champion_after_move"] = champion.version
seen["champion_run"] = champion.run_id == run_ids[1]
seen["aliases"] = client.get_registered_model("sma-cross").aliases
client.transition_model_version_stage("sma-cross", "1", "Production")
seen["stage_v1"] = client.get_model_version("sma-cross", "1").current_stage
seen["versions_found"] = sorted(v.version for v in client.search_model_versions("name = 'sma-cross'"))
seen["models_found"] = [m.name for m in client.search_registered_models(filter_string="name LIKE 'sma%'")]
seen["missing_version"] = error_code(lambda: client.get_model_version("sma-cross", "9"))
seen["missing_alias"] = error_code(lambda: client.get_model_version_by_alias("sma-cross", "nobody"))
seen["missing_model"] = error_code(lambda: client.get_registered_model("no-such-model"))
client.delete_registered_model_alias("sma-cross", "champion")
assert client.get_registered_model("sma-cross").aliases == {}
client.rename_registered_model("sma-cross", "sma-cross-v2")
seen["renamed_versions"] = sorted(v.version for v in client.search_model_versions("name = 'sma-cross-v2'"))

print(json.dumps(seen))
