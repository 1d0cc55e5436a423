//! A Rust client for MLflow's REST API (this server or a real MLflow server): tracking, the
//! model registry, artifacts, and `models:/NAME@ALIAS` / `models:/NAME/VERSION` resolution, with
//! retries on transient failures.

use std::time::Duration;

use serde_json::{Value, json};

/// What the client could not do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an MLflow error.
    #[error("{endpoint}: {error_code}: {message}")]
    Api { endpoint: String, error_code: String, message: String, status: u16 },
    #[error("{endpoint}: {source}")]
    Transport { endpoint: String, source: reqwest::Error },
    #[error("{endpoint}: the answer is not what MLflow sends: {reason}")]
    Protocol { endpoint: String, reason: String },
    #[error("`{0}` is not a models:/NAME/VERSION or models:/NAME@ALIAS URI")]
    ModelUri(String),
}

impl ClientError {
    /// MLflow's error code, when the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { error_code, .. } => Some(error_code),
            _ => None,
        }
    }
}

/// One metric point to log.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    pub key: String,
    pub value: f64,
    pub timestamp_ms: i64,
    pub step: i64,
}

#[derive(Clone, Debug)]
pub struct MlflowClient {
    base: String,
    http: reqwest::Client,
    retries: u32,
    user: String,
    credentials: Option<Credentials>,
}

/// How the client proves who it is, as the official client reads it from the environment.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `MLFLOW_TRACKING_TOKEN`: sent as a bearer token (a Sextant API key or JWT).
    Token(String),
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`: HTTP basic auth.
    Basic { user: String, password: String },
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl MlflowClient {
    /// `tracking_uri` such as `http://127.0.0.1:5000`.
    pub fn new(tracking_uri: &str) -> Self {
        let user = std::env::var("USER").unwrap_or_default();
        Self {
            base: tracking_uri.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            retries: 3,
            user,
            credentials: None,
        }
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Credentials from MLflow's variables, when set: the token first, then user and password.
    pub fn with_env_credentials(self) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            return self.with_credentials(Credentials::Token(token));
        }
        match (var("MLFLOW_TRACKING_USERNAME"), var("MLFLOW_TRACKING_PASSWORD")) {
            (Some(user), Some(password)) => self.with_credentials(Credentials::Basic { user, password }),
            _ => self,
        }
    }

    fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some(Credentials::Token(token)) => request.bearer_auth(token),
            Some(Credentials::Basic { user, password }) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Who the registry records for alias moves (default: $USER).
    pub fn as_user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sends one request, retrying connection failures, 429 and 5xx with exponential backoff.
    async fn call(&self, method: reqwest::Method, endpoint: &str, body: Value) -> Result<Value, ClientError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let mut attempt = 0;
        loop {
            let request = if method == reqwest::Method::GET {
                let query: Vec<(String, String)> = body
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                match url::Url::parse_with_params(&url, &query) {
                    Ok(with_query) => self.http.get(with_query.as_str()),
                    Err(e) => {
                        return Err(ClientError::Protocol {
                            endpoint: endpoint.into(),
                            reason: format!("bad URL {url}: {e}"),
                        });
                    }
                }
            } else {
                self.http
                    .request(method.clone(), &url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
            };
            let request = self.authorise(request.header("x-sextant-user", &self.user));
            let outcome = request.send().await;
            let transient = match &outcome {
                Err(e) => e.is_connect() || e.is_timeout(),
                Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
            };
            if transient && attempt < self.retries {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                continue;
            }
            let response = outcome.map_err(|source| ClientError::Transport { endpoint: endpoint.into(), source })?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|source| ClientError::Transport { endpoint: endpoint.into(), source })?;
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(ClientError::Api {
                    endpoint: endpoint.into(),
                    error_code: value["error_code"].as_str().unwrap_or("HTTP_ERROR").to_string(),
                    message: value["message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
                    status: status.as_u16(),
                });
            }
            return Ok(value);
        }
    }

    fn field(endpoint: &str, v: &Value, path: &[&str]) -> Result<String, ClientError> {
        let mut cur = v;
        for p in path {
            cur = &cur[*p];
        }
        cur.as_str().map(str::to_string).ok_or_else(|| ClientError::Protocol {
            endpoint: endpoint.into(),
            reason: format!("missing {}", path.join(".")),
        })
    }

    pub async fn create_experiment(&self, name: &str) -> Result<String, ClientError> {
        let v = self.call(reqwest::Method::POST, "experiments/create", json!({ "name": name })).await?;
        Self::field("experiments/create", &v, &["experiment_id"])
    }

    /// The experiment's id, or None when no experiment has that name.
    pub async fn experiment_id_by_name(&self, name: &str) -> Result<Option<String>, ClientError> {
        match self.call(reqwest::Method::GET, "experiments/get-by-name", json!({ "experiment_name": name })).await {
            Ok(v) => Ok(Some(Self::field("experiments/get-by-name", &v, &["experiment", "experiment_id"])?)),
            Err(e) if e.error_code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts a run; returns its id. `tags` carry lineage (data hash, feature-spec hash, code
    /// version, seed, parent run).
    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, ClientError> {
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
        let body =
            json!({ "experiment_id": experiment_id, "run_name": run_name, "start_time": now_ms(), "tags": tags });
        let v = self.call(reqwest::Method::POST, "runs/create", body).await?;
        Self::field("runs/create", &v, &["run", "info", "run_id"])
    }

    /// Params, metrics and tags in one call (split to MLflow's limits of 100 params and 1000 metrics).
    pub async fn log_batch(
        &self,
        run_id: &str,
        params: &[(&str, String)],
        metrics: &[MetricPoint],
        tags: &[(&str, &str)],
    ) -> Result<(), ClientError> {
        for chunk in params.chunks(100) {
            let params: Vec<Value> = chunk.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
            self.call(reqwest::Method::POST, "runs/log-batch", json!({ "run_id": run_id, "params": params })).await?;
        }
        for chunk in metrics.chunks(1000) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|m| json!({ "key": m.key, "value": m.value, "timestamp": m.timestamp_ms, "step": m.step }))
                .collect();
            self.call(reqwest::Method::POST, "runs/log-batch", json!({ "run_id": run_id, "metrics": metrics })).await?;
        }
        if !tags.is_empty() {
            let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
            self.call(reqwest::Method::POST, "runs/log-batch", json!({ "run_id": run_id, "tags": tags })).await?;
        }
        Ok(())
    }

    pub async fn set_terminated(&self, run_id: &str, status: &str) -> Result<(), ClientError> {
        self.call(
            reqwest::Method::POST,
            "runs/update",
            json!({ "run_id": run_id, "status": status, "end_time": now_ms() }),
        )
        .await?;
        Ok(())
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Value, ClientError> {
        Ok(self.call(reqwest::Method::GET, "runs/get", json!({ "run_id": run_id })).await?["run"].clone())
    }

    /// Runs matching an MLflow filter, in `order_by` order (first page of up to `max_results`).
    pub async fn search_runs(
        &self,
        experiment_ids: &[&str],
        filter: &str,
        order_by: &[&str],
        max_results: usize,
    ) -> Result<Vec<Value>, ClientError> {
        let body = json!({ "experiment_ids": experiment_ids, "filter": filter, "order_by": order_by, "max_results": max_results });
        let v = self.call(reqwest::Method::POST, "runs/search", body).await?;
        Ok(v["runs"].as_array().cloned().unwrap_or_default())
    }

    /// The artifact proxy's URL of `path` under an `mlflow-artifacts:/…` root.
    fn artifact_url(&self, root: &str, path: &str, endpoint: &str) -> Result<String, ClientError> {
        let key = root.strip_prefix("mlflow-artifacts:").ok_or_else(|| ClientError::Protocol {
            endpoint: endpoint.into(),
            reason: format!("artifact root {root} is not served by the tracking server"),
        })?;
        Ok(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}/{}",
            self.base,
            key.trim_matches('/'),
            path.trim_matches('/')
        ))
    }

    /// Uploads an artifact under the run's artifact root (`mlflow-artifacts:/…` URIs only).
    pub async fn log_artifact(&self, run_id: &str, path: &str, data: Vec<u8>) -> Result<(), ClientError> {
        let run = self.get_run(run_id).await?;
        let root = Self::field("runs/get", &run, &["info", "artifact_uri"])?;
        let url = self.artifact_url(&root, path, "log_artifact")?;
        let response = self
            .authorise(self.http.put(&url))
            .body(data)
            .send()
            .await
            .map_err(|source| ClientError::Transport { endpoint: "artifacts".into(), source })?;
        if !response.status().is_success() {
            return Err(ClientError::Api {
                endpoint: "artifacts".into(),
                error_code: "HTTP_ERROR".into(),
                message: response.status().to_string(),
                status: response.status().as_u16(),
            });
        }
        Ok(())
    }

    /// Downloads `path` under an artifact root (`mlflow-artifacts:/…`, as a run's artifact URI
    /// or a model version's source gives it) through the artifact proxy.
    pub async fn download_artifact(&self, root: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.artifact_url(root, path, "download_artifact")?;
        let response = self
            .authorise(self.http.get(&url))
            .send()
            .await
            .map_err(|source| ClientError::Transport { endpoint: "artifacts".into(), source })?;
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|source| ClientError::Transport { endpoint: "artifacts".into(), source })?;
        if !status.is_success() {
            return Err(ClientError::Api {
                endpoint: "artifacts".into(),
                error_code: if status.as_u16() == 404 { "RESOURCE_DOES_NOT_EXIST".into() } else { "HTTP_ERROR".into() },
                message: format!("{path}: {status}"),
                status: status.as_u16(),
            });
        }
        Ok(bytes.to_vec())
    }

    /// Registers a version of `name` (creating the model if needed); returns the version number.
    pub async fn register_model(&self, name: &str, source: &str, run_id: &str) -> Result<String, ClientError> {
        match self.call(reqwest::Method::POST, "registered-models/create", json!({ "name": name })).await {
            Ok(_) => {}
            Err(e) if e.error_code() == Some("RESOURCE_ALREADY_EXISTS") => {}
            Err(e) => return Err(e),
        }
        let v = self
            .call(
                reqwest::Method::POST,
                "model-versions/create",
                json!({ "name": name, "source": source, "run_id": run_id }),
            )
            .await?;
        Self::field("model-versions/create", &v, &["model_version", "version"])
    }

    /// Points an alias at a version: promotion, or rollback when moved back.
    pub async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), ClientError> {
        self.call(
            reqwest::Method::POST,
            "registered-models/alias",
            json!({ "name": name, "alias": alias, "version": version }),
        )
        .await?;
        Ok(())
    }

    /// Every move of the model's aliases, oldest first: alias, version, previous_version,
    /// changed_by, changed_at (ms).
    pub async fn alias_history(&self, name: &str) -> Result<Vec<Value>, ClientError> {
        let v = self.call(reqwest::Method::GET, "registered-models/alias-history", json!({ "name": name })).await?;
        Ok(v["history"].as_array().cloned().unwrap_or_default())
    }

    /// Resolves `models:/NAME@ALIAS` or `models:/NAME/VERSION` to the version's record
    /// (`source` is the folder the version's files live in).
    pub async fn resolve_model(&self, uri: &str) -> Result<Value, ClientError> {
        let rest = uri.strip_prefix("models:/").ok_or_else(|| ClientError::ModelUri(uri.into()))?;
        let v = if let Some((name, alias)) = rest.split_once('@') {
            self.call(reqwest::Method::GET, "registered-models/alias", json!({ "name": name, "alias": alias })).await?
        } else if let Some((name, version)) = rest.rsplit_once('/') {
            if version.parse::<u64>().is_err() {
                return Err(ClientError::ModelUri(uri.into()));
            }
            self.call(reqwest::Method::GET, "model-versions/get", json!({ "name": name, "version": version })).await?
        } else {
            return Err(ClientError::ModelUri(uri.into()));
        };
        Ok(v["model_version"].clone())
    }
}
