"""The official MLflow client against the protected control plane. Credentials come from the
environment exactly as users set them (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD). Prints one JSON line: what worked, or the error code the server gave."""
import json
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

uri, suffix = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
client = MlflowClient()
out = {}
try:
    exp = client.create_experiment(f"auth-{suffix}")
    run = client.create_run(exp)
    client.log_param(run.info.run_id, "lr", "0.01")
    client.log_metric(run.info.run_id, "loss", 0.5, step=1)
    model = f"model-{suffix}"
    client.create_registered_model(model)
    version = client.create_model_version(model, "file:///tmp/weights", run.info.run_id).version
    client.set_registered_model_alias(model, "champion", version)
    out["champion"] = client.get_model_version_by_alias(model, "champion").version
    out["params"] = client.get_run(run.info.run_id).data.params
except MlflowException as e:
    out["error_code"] = e.error_code
try:
    out["experiments_seen"] = len(client.search_experiments())
except MlflowException as e:
    out["search_error_code"] = e.error_code
print(json.dumps(out))
