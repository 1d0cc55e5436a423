//! The control plane's state on a test database (`common::TestDb`), shared by the web crate's
//! tests and benches: local artifacts and the site under the database's own temporary folder.

use web::server::{AppState, ServeOptions};

/// A server's state on `test_db` (a second call: another server of the same project).
pub async fn state_on(test_db: &super::common::TestDb) -> AppState {
    let dir = test_db.dir();
    let artifacts = engine::storage::ArtifactStore::open(&dir.join("artifacts").display().to_string())
        .expect("a local artifact store in the test folder");
    let options = ServeOptions { site_dir: dir.join("site"), data_dir: dir.to_path_buf(), secure_cookies: true };
    AppState::new(test_db.db.clone(), artifacts, options).await.expect("the control plane's state on the test database")
}
