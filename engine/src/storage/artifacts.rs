//! The artifact store: model checkpoints, reports and other blobs under one prefix of an
//! object store, a local folder by default and S3, GCS or Azure when a URL says so.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use super::StorageError;

/// One stored artifact as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArtifactMeta {
    /// Key relative to the store's prefix, `/`-separated.
    pub key: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// Artifacts under a prefix of an object store. Writes are whole-object puts, which every
/// backend makes atomic (the local store writes a temporary file and renames it).
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: String,
}

impl ArtifactStore {
    /// Opens the store a location names: a filesystem path or `file://` URL (created when
    /// missing), `memory://`, or `s3://`, `gs://`, `az://`/`abfs://` with credentials and
    /// endpoints from the usual `AWS_*`, `GOOGLE_*` and `AZURE_*` environment variables.
    pub fn open(location: &str) -> Result<Self, StorageError> {
        let bad = |reason: String| StorageError::ArtifactLocation { url: location.to_owned(), reason };
        if location.starts_with("memory://") {
            return Ok(Self { store: Arc::new(InMemory::new()), prefix: ObjectPath::default(), url: location.into() });
        }
        let local_path = match location.strip_prefix("file://") {
            Some(p) => Some(std::path::PathBuf::from(p)),
            None if !location.contains("://") => Some(std::path::PathBuf::from(location)),
            None => None,
        };
        if let Some(path) = local_path {
            std::fs::create_dir_all(&path).map_err(|e| bad(format!("cannot create folder: {e}")))?;
            let store = LocalFileSystem::new_with_prefix(&path).map_err(|e| bad(e.to_string()))?;
            return Ok(Self { store: Arc::new(store), prefix: ObjectPath::default(), url: location.into() });
        }
        let url = url::Url::parse(location).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure") {
            return Err(bad(format!("scheme `{}` is not one of file, memory, s3, gs, az", url.scheme())));
        }
        let options = std::env::vars().filter(|(k, _)| {
            let k = k.to_ascii_uppercase();
            k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_")
        });
        let options: Vec<(String, String)> = options.map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let (store, prefix) = object_store::parse_url_opts(&url, options).map_err(|e| bad(e.to_string()))?;
        Ok(Self { store: Arc::from(store), prefix, url: location.into() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, key: &str) -> Result<ObjectPath, StorageError> {
        let clean = key.trim_matches('/');
        if clean.is_empty() || clean.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(StorageError::ArtifactLocation {
                url: self.url.clone(),
                reason: format!("`{key}` is not a valid artifact key (no empty, `.` or `..` segments)"),
            });
        }
        let mut path = self.prefix.clone();
        for seg in clean.split('/') {
            path = path.join(seg);
        }
        Ok(path)
    }

    fn relative(&self, path: &ObjectPath) -> String {
        let full = path.as_ref();
        let prefix = self.prefix.as_ref();
        full.strip_prefix(prefix).unwrap_or(full).trim_start_matches('/').to_owned()
    }

    #[tracing::instrument(skip(self, data), fields(bytes = data.len()))]
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        let path = self.path(key)?;
        self.store
            .put(&path, PutPayload::from_bytes(data))
            .await
            .map_err(|source| StorageError::Artifact { key: key.to_owned(), source })?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = self.path(key)?;
        let wrap = |source| StorageError::Artifact { key: key.to_owned(), source };
        self.store.get(&path).await.map_err(wrap)?.bytes().await.map_err(wrap)
    }

    /// Whether an artifact exists (other errors are reported, not taken for absence).
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = self.path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(StorageError::Artifact { key: key.to_owned(), source }),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        self.store.delete(&path).await.map_err(|source| StorageError::Artifact { key: key.to_owned(), source })
    }

    /// Every artifact under `prefix` (recursively), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ArtifactMeta>, StorageError> {
        let base = if prefix.trim_matches('/').is_empty() { self.prefix.clone() } else { self.path(prefix)? };
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&base))
            .try_collect()
            .await
            .map_err(|source| StorageError::Artifact { key: prefix.to_owned(), source })?;
        let mut out: Vec<ArtifactMeta> = metas
            .into_iter()
            .map(|m| ArtifactMeta { key: self.relative(&m.location), size: m.size, last_modified: m.last_modified })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
