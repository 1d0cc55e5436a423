"""MLflow 3's logged models through the official client (mlflow-skinny with numpy and pandas, for
pyfunc): log a model from a run, load it and predict, register it by model id and by run path,
search, tag, delete. Usage: mlflow_logged_models.py TRACKING_URI. Prints one JSON line of
observations; exits non-zero on the first failed check."""
import json
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient(tracking_uri=uri)
seen = {}


def error_code(fn):
    try:
        fn()
    except MlflowException as e:
        return e.error_code
    return None


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input]


exp_id = mlflow.set_experiment("models").experiment_id
with mlflow.start_run() as run:
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("acc", 0.9, step=0)
    info = mlflow.pyfunc.log_model(name="doubler", python_model=Doubler(), pip_requirements=[])
    mlflow.log_metric("rmse", 0.1, step=1, model_id=info.model_id)
rid = run.info.run_id

model = client.get_logged_model(info.model_id)
seen["status"] = str(model.status)
seen["name"] = model.name
seen["source_run"] = model.source_run_id == rid
seen["params"] = model.params
seen["metrics"] = sorted([m.key, m.value, m.step] for m in model.metrics)
seen["artifact_uri"] = model.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
seen["outputs"] = [o.model_id == info.model_id for o in client.get_run(rid).outputs.model_outputs]
seen["predicted"] = mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict([1, 2, 3])

mv1 = mlflow.register_model(f"models:/{info.model_id}", "doubler")
mv2 = mlflow.register_model(f"runs:/{rid}/doubler", "doubler")
seen["versions"] = [mv1.version, mv2.version]
seen["version_runs"] = [mv1.run_id == rid, mv2.run_id == rid]
seen["from_registry"] = mlflow.pyfunc.load_model("models:/doubler/2").predict([5])
seen["model_version_tag"] = "mlflow.modelVersions" in client.get_logged_model(info.model_id).tags

other = client.create_logged_model(experiment_id=exp_id, name="other", params={"alpha": "0.9"})
seen["other_status"] = str(other.status)
found = client.search_logged_models([exp_id], filter_string="params.alpha = '0.5' AND metrics.rmse < 1")
seen["found"] = [m.name for m in found]
seen["pending"] = [m.name for m in client.search_logged_models([exp_id], filter_string="status = 'PENDING'")]
ordered = client.search_logged_models([exp_id], order_by=[{"field_name": "name", "ascending": True}])
seen["ordered"] = [m.name for m in ordered]
first = client.search_logged_models([exp_id], max_results=1)
rest = client.search_logged_models([exp_id], max_results=1, page_token=first.token)
seen["paged"] = [len(first), len(rest), first.token is not None, rest.token is None]

client.set_logged_model_tags(other.model_id, {"team": "quant"})
seen["tag"] = client.get_logged_model(other.model_id).tags.get("team")
client.delete_logged_model_tag(other.model_id, "team")
seen["tag_after_delete"] = client.get_logged_model(other.model_id).tags.get("team")
seen["missing_tag"] = error_code(lambda: client.delete_logged_model_tag(other.model_id, "team"))
client.log_model_params(other.model_id, {"beta": "1"})
seen["params_after"] = client.get_logged_model(other.model_id).params
seen["finalized"] = str(client.finalize_logged_model(other.model_id, "READY").status)
client.delete_logged_model(other.model_id)
seen["deleted"] = error_code(lambda: client.get_logged_model(other.model_id))
seen["after_delete"] = [m.name for m in client.search_logged_models([exp_id])]
seen["missing"] = error_code(lambda: client.get_logged_model("m-" + "0" * 32))
seen["bad_filter"] = error_code(lambda: client.search_logged_models([exp_id], filter_string="colour = 'red'"))
seen["bad_name"] = error_code(lambda: client.create_logged_model(experiment_id=exp_id, name="a/b"))

print(json.dumps(seen, default=str))
