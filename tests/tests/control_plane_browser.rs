//! The control plane in a real browser (Debian's headless Chromium through chromedriver):
//! sign in, open an experiment, compare two runs, start a backtest and see its chart, promote
//! a model version and roll it back, check that a viewer cannot promote, and see an alias move
//! and a metric logged by programs reach the viewer's open pages live. Screenshots of the
//! main pages go to `$SEXTANT_E2E_ARTIFACTS` (default: target/e2e-artifacts).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Kills the child process when the test ends, however it ends.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate lives in the repository").to_path_buf()
}

/// The `sextant` binary of this build (target/PROFILE/sextant, beside this test's deps folder).
fn sextant_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE/deps/test");
    let bin = profile_dir.join("sextant");
    assert!(bin.is_file(), "{} is missing: build the workspace first (scripts/test.sh does)", bin.display());
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

struct Server {
    _child: Killed,
    base: String,
    admin_password: String,
    data_dir: tempfile::TempDir,
}

/// Starts `sextant serve` on a fresh data folder and reads its address and admin password.
fn start_server() -> Server {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(sextant_bin())
        .current_dir(repo_root())
        .args(["--data-dir"])
        .arg(data_dir.path())
        .args(["serve", "--port", "0", "--sample-dir", "data/sample"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sextant serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut base, mut password) = (None, None);
    while base.is_none() || password.is_none() {
        let line = lines.next().expect("sextant serve ended before printing its address").expect("read line");
        if let Some(rest) = line.strip_prefix("Sextant control plane on ") {
            base = rest.split_whitespace().next().map(|u| u.trim_end_matches('/').to_string());
        }
        if let Some(p) = line.split("one-time password: ").nth(1) {
            password = Some(p.trim().to_string());
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        _child: Killed(child),
        base: base.unwrap_or_default(),
        admin_password: password.unwrap_or_default(),
        data_dir,
    }
}

fn add_user(server: &Server, name: &str, role: &str, password: &str) {
    let mut child = Command::new(sextant_bin())
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .args(["users", "add", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sextant users add");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write password");
    assert!(child.wait().expect("wait").success(), "sextant users add {name} failed");
}

fn start_chromedriver() -> (Killed, u16) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver) must be installed: scripts/setup.sh installs it");
    (Killed(child), port)
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--window-size=1400,1000"]
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        match builder.capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not start a Chromium session: {e}"),
        }
    }
}

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| sextant_bin().parent().expect("target dir").join("e2e-artifacts"));
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

async fn screenshot(c: &Client, name: &str) -> TestResult {
    let png = c.screenshot().await?;
    std::fs::write(artifacts_dir().join(format!("{name}.png")), png)?;
    Ok(())
}

/// The element's text; retried while the element is missing or being replaced (a resource
/// that re-renders its Suspense swaps the nodes between find and read).
async fn text_of(c: &Client, css: &str) -> Result<String, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = async { c.find(Locator::Css(css)).await?.text().await };
        match attempt.await {
            Ok(text) => return Ok(text),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the element's text satisfies `done`; returns it (or the last text, on timeout).
async fn text_when(c: &Client, css: &str, done: impl Fn(&str) -> bool) -> Result<String, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = text_of(c, css).await.unwrap_or_default();
        if done(&text) || Instant::now() > deadline {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page's hydration script has run (the Leptos app is interactive).
async fn wait_hydrated(c: &Client) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = c.execute("return !!(window.__sextant_hydrated)", vec![]).await?;
        if done.as_bool() == Some(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the page never hydrated (is the WebAssembly build missing? scripts/build-web.sh)".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) -> TestResult {
    c.goto(&format!("{base}/")).await?;
    // Not signed in: the overview sends the browser to the login page.
    c.wait().for_url(&format!("{base}/login?next=%2F").parse()?).await?;
    c.find(Locator::Id("username")).await?.send_keys(user).await?;
    c.find(Locator::Id("password")).await?.send_keys(password).await?;
    c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h1[text()='Overview']")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn researcher_workflow_and_viewer_limits_in_a_real_browser() -> TestResult {
    let server = start_server();
    let base = server.base.clone();
    add_user(&server, "vera", "viewer", "viewer-password-123");
    let (_driver, port) = start_chromedriver();
    let c = browser(port).await;
    let outcome = workflow(&c, &server, &base).await;
    if outcome.is_err() {
        let _ = screenshot(&c, "failure").await;
    }
    c.close().await?;
    outcome
}

async fn workflow(c: &Client, server: &Server, base: &str) -> TestResult {
    // A wrong password is refused with a visible reason.
    c.goto(&format!("{base}/login")).await?;
    c.find(Locator::Id("username")).await?.send_keys("admin").await?;
    c.find(Locator::Id("password")).await?.send_keys("not-the-password").await?;
    c.find(Locator::Css("form button[type=submit]")).await?.click().await?;
    let error = c.wait().for_element(Locator::Id("login-error")).await?.text().await?;
    assert!(error.contains("Wrong user name or password"), "{error}");

    sign_in(c, base, "admin", &server.admin_password).await?;
    wait_hydrated(c).await?;
    assert_eq!(c.title().await?, "Overview · Sextant");
    screenshot(c, "overview").await?;

    // Account: an API key shown once that works for programs; an administrator adds and disables a user.
    c.goto(&format!("{base}/account")).await?;
    wait_hydrated(c).await?;
    c.find(Locator::Id("label")).await?.send_keys("browser test").await?;
    c.find(Locator::Css("#key-form button")).await?.click().await?;
    let key = text_of(c, "#new-key").await?;
    assert!(key.starts_with("sxk_"), "{key}");
    let me = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/me', {credentials: 'omit', headers: {authorization: 'Bearer ' + arguments[0]}}).then(r => r.json()).then(done);",
            vec![serde_json::json!(key)],
        )
        .await?;
    assert_eq!(me["name"], "admin", "the key acts for its owner: {me}");
    // The key is listed by its first characters (never the secret), and revoked from the list.
    let listed = format!("//table[@id='keys-table']//tr[td[3]='browser test']/td[1][starts-with(., '{}')]", &key[..10]);
    c.wait().for_element(Locator::XPath(&listed)).await?;
    let table = text_of(c, "#keys-table").await?;
    assert!(!table.contains(&key), "the listing shows no secret: {table}");
    c.find(Locator::Css(&format!("button[aria-label^='Revoke key {}']", &key[..10]))).await?.click().await?;
    c.wait().for_element(Locator::Id("no-keys")).await?;
    let status = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/me', {credentials: 'omit', headers: {authorization: 'Bearer ' + arguments[0]}}).then(r => done(r.status));",
            vec![serde_json::json!(key)],
        )
        .await?;
    assert_eq!(status, 401, "a revoked key stops working at once");
    c.find(Locator::Id("new-name")).await?.send_keys("newbie").await?;
    c.find(Locator::Css("#add-user-form button")).await?.click().await?;
    let password = text_of(c, "#new-password").await?;
    assert_eq!(password.len(), 20, "a generated one-time password: {password}");
    c.wait().for_element(Locator::XPath("//table[@id='users-table']//tr[td[1]='newbie']")).await?;
    c.find(Locator::Css("button[aria-label='Disable newbie']")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//table[@id='users-table']//tr[td[1]='newbie']/td[3][.='disabled']")).await?;
    screenshot(c, "account").await?;

    // Data: every sample series in the catalog, each with its quality report.
    c.find(Locator::LinkText("Data")).await?.click().await?;
    c.wait().for_element(Locator::Css("#datasets tbody tr")).await?;
    let datasets = c.find_all(Locator::Css("#datasets tbody tr")).await?.len();
    assert!(datasets >= 5, "the sample files are in the catalog: {datasets} datasets");
    c.find(Locator::Css("#datasets details summary")).await?.click().await?;
    let report = text_of(c, "#datasets details pre").await?;
    assert!(report.to_lowercase().contains("confidence"), "the quality report shows: {report}");
    screenshot(c, "data").await?;

    // Experiments: the demo sweep, its runs table, sorting by a metric.
    c.find(Locator::LinkText("Experiments")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h1[text()='Experiments']")).await?;
    c.find(Locator::XPath("//a[starts-with(., 'Demo: SMA crossover')]")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h1[starts-with(., 'Experiment: Demo')]")).await?;
    let caption = text_of(c, "table caption").await?;
    assert_eq!(caption, "6 runs");
    c.find(Locator::LinkText("sharpe_ratio")).await?.click().await?;
    c.wait().for_element(Locator::Css("th[aria-sort='descending']")).await?;
    let sharpes: Vec<f64> = {
        let mut v = Vec::new();
        for cell in c.find_all(Locator::Css("tbody tr td:nth-child(13)")).await? {
            v.push(cell.text().await?.parse::<f64>()?);
        }
        v
    };
    assert_eq!(sharpes.len(), 6);
    assert!(sharpes.windows(2).all(|w| w[0] >= w[1]), "sorted by Sharpe, highest first: {sharpes:?}");
    screenshot(c, "experiment").await?;

    // Live: a sweep worker adds a run while the table is open. It shows without a reload, and
    // the run already ticked for comparison stays ticked.
    wait_hydrated(c).await?;
    let mut best = Vec::new();
    for pick in c.find_all(Locator::Css("input[name='run']")).await?.iter().take(2) {
        best.push(pick.attr("value").await?.unwrap_or_default());
    }
    c.find(Locator::Css(&format!("input[value='{}']", best[0]))).await?.click().await?;
    c.execute("window.__sextant_not_reloaded = true", vec![]).await?;
    let experiment_id = c.current_url().await?.path().trim_start_matches("/experiments/").to_string();
    let worker_key = create_key(server, "admin", "sweep worker");
    let new_run = serde_json::json!({ "experiment_id": experiment_id, "run_name": "late-trial" });
    assert_eq!(post_by_api(base, &worker_key, "/api/2.0/mlflow/runs/create", &new_run), 200);
    let caption = text_when(c, "table caption", |t| t == "7 runs").await?;
    assert_eq!(caption, "7 runs");
    c.wait().for_element(Locator::XPath("//tbody//a[.='late-trial']")).await?;
    let still = c
        .execute("return [...document.querySelectorAll(\"input[name='run']:checked\")].map(b => b.value)", vec![])
        .await?;
    assert_eq!(still, serde_json::json!([best[0]]), "the ticked run stays ticked through the refresh");
    let same_page = c.execute("return window.__sextant_not_reloaded === true", vec![]).await?;
    assert_eq!(same_page, serde_json::json!(true), "the new run arrived over the WebSocket, not by a reload");

    // Compare the two best runs: params side by side and curves overlaid.
    c.find(Locator::Css(&format!("input[value='{}']", best[1]))).await?.click().await?;
    c.find(Locator::Css("#compare-form button")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h1[text()='Compare runs']")).await?;
    let columns = c.find_all(Locator::Css("table:first-of-type thead th")).await?;
    assert_eq!(columns.len(), 3, "the param column and one column per run");
    let equity_lines = c.find_all(Locator::Css("figure svg polyline")).await?;
    assert!(equity_lines.len() >= 2, "each compared run draws its curve");
    screenshot(c, "compare").await?;

    // Start a backtest from the form; the page follows it to its chart.
    c.goto(&format!("{base}/backtests")).await?;
    wait_hydrated(c).await?;
    c.find(Locator::Id("symbol")).await?.select_by_value("GOOG").await?;
    let params = c.find(Locator::Id("params")).await?;
    params.clear().await?;
    params.send_keys("fast=5, slow=3").await?;
    c.find(Locator::Css("#backtest-form button[type=submit]")).await?.click().await?;
    // Invalid: the reason shows next to the field, and no run starts.
    let reason = c.wait().for_element(Locator::Id("params-error")).await?.text().await?;
    assert!(reason.contains("slow"), "{reason}");
    let params = c.find(Locator::Id("params")).await?;
    params.clear().await?;
    params.send_keys("fast=10, slow=30").await?;
    c.find(Locator::Css("#backtest-form button[type=submit]")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h1[starts-with(., 'Backtest: sma_cross GOOG')]")).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stage = text_of(c, "#backtest-stage").await.unwrap_or_default();
        if stage.starts_with("Status: FINISHED") {
            break;
        }
        assert!(!stage.contains("FAILED"), "{stage}");
        assert!(Instant::now() < deadline, "the backtest did not finish: {stage}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    c.wait().for_element(Locator::XPath("//figcaption[.='Equity']")).await?;
    assert!(!c.find_all(Locator::Css("#trades tbody tr")).await?.is_empty(), "the trade log lists trades");
    screenshot(c, "backtest").await?;

    // Promote version 2 to champion, then roll back to version 1.
    c.goto(&format!("{base}/models/sma-cross-goog")).await?;
    wait_hydrated(c).await?;
    promote(c, "2").await?;
    c.wait()
        .for_element(Locator::XPath("//table[@id='versions']//tr[td[1]='v2']/td[2][contains(., '@champion')]"))
        .await?;
    promote(c, "1").await?;
    c.wait()
        .for_element(Locator::XPath("//table[@id='versions']//tr[td[1]='v1']/td[2][contains(., '@champion')]"))
        .await?;
    let history = text_when(c, "#alias-history tbody", |t| t.lines().count() >= 3).await?;
    let rows: Vec<&str> = history.lines().collect();
    assert!(rows.len() >= 3, "seed, promotion and rollback are recorded: {history}");
    assert!(
        rows[0].contains("admin") && rows[0].contains("v2") && rows[0].ends_with("v1"),
        "newest first: the rollback: {history}"
    );
    assert!(rows[1].contains("admin") && rows[1].ends_with("v2"), "then the promotion: {history}");
    screenshot(c, "model").await?;

    // A viewer sees the model but has no promotion form, and a forged request is refused.
    c.find(Locator::Css("form.account button")).await?.click().await?;
    c.wait().for_element(Locator::Id("username")).await?;
    sign_in(c, base, "vera", "viewer-password-123").await?;
    c.goto(&format!("{base}/models/sma-cross-goog")).await?;
    c.wait().for_element(Locator::Id("promote-denied")).await?;
    assert!(c.find_all(Locator::Id("promote-form")).await?.is_empty());
    c.goto(&format!("{base}/account")).await?;
    c.wait().for_element(Locator::Id("key-form")).await?;
    assert!(c.find_all(Locator::Id("users-table")).await?.is_empty(), "only administrators manage users");
    let status = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/models/sma-cross-goog/aliases', {method: 'POST', headers: {'content-type': 'application/json'},
                   body: JSON.stringify({alias: 'champion', version: 2})}).then(r => done(r.status));",
            vec![],
        )
        .await?;
    assert_eq!(status.as_u64(), Some(403));
    c.goto(&format!("{base}/models/sma-cross-goog")).await?;
    let champion = text_when(c, "#versions tbody tr:last-child td:nth-child(2)", |t| !t.is_empty()).await?;
    assert!(champion.contains("@champion"), "the viewer's attempt changed nothing: v1 is still champion");
    screenshot(c, "viewer-model").await?;

    // Live: an administrator's program moves the alias; the viewer's open page shows it without a reload.
    wait_hydrated(c).await?;
    c.execute("window.__sextant_not_reloaded = true", vec![]).await?;
    let key = create_key(server, "admin", "deploy script");
    assert_eq!(move_alias_by_api(base, &key, "sma-cross-goog", "champion", 2), 200);
    c.wait()
        .for_element(Locator::XPath("//table[@id='versions']//tr[td[1]='v2']/td[2][contains(., '@champion')]"))
        .await?;
    let same_page = c.execute("return window.__sextant_not_reloaded === true", vec![]).await?;
    assert_eq!(same_page, serde_json::json!(true), "the move arrived over the WebSocket, not by a reload");

    // Live: a training program logs to a run through the MLflow API; the viewer's open run page
    // shows the new metric and status without a reload.
    c.goto(&format!("{base}/experiments")).await?;
    c.wait().for_element(Locator::XPath("//a[starts-with(., 'Demo: SMA crossover')]")).await?.click().await?;
    c.wait().for_element(Locator::Css("tbody a[href^='/runs/']")).await?.click().await?;
    c.wait().for_element(Locator::XPath("//h2[.='Metrics (latest)']")).await?;
    wait_hydrated(c).await?;
    let run_id = c.current_url().await?.path().trim_start_matches("/runs/").to_string();
    c.execute("window.__sextant_not_reloaded = true", vec![]).await?;
    let metric =
        serde_json::json!({ "run_id": run_id, "key": "live_check", "value": 0.125, "timestamp": 1, "step": 0 });
    assert_eq!(post_by_api(base, &key, "/api/2.0/mlflow/runs/log-metric", &metric), 200);
    let row = "//section[h2='Metrics (latest)']//tr[th='live_check']/td[.='0.125']";
    c.wait().for_element(Locator::XPath(row)).await?;
    let same_page = c.execute("return window.__sextant_not_reloaded === true", vec![]).await?;
    assert_eq!(same_page, serde_json::json!(true), "the metric arrived over the WebSocket, not by a reload");
    screenshot(c, "run-live").await?;
    Ok(())
}

/// An API key made with `sextant users create-key`, as an operator would for a program.
fn create_key(server: &Server, user: &str, label: &str) -> String {
    let out = Command::new(sextant_bin())
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .args(["users", "create-key", "--user", user, "--label", label])
        .output()
        .expect("sextant users create-key");
    assert!(out.status.success(), "sextant users create-key failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Moves an alias through `POST /api/v1/models/{name}/aliases` from outside the browser and
/// returns the status code.
fn move_alias_by_api(base: &str, key: &str, model: &str, alias: &str, version: u32) -> u16 {
    let body = serde_json::json!({ "alias": alias, "version": version });
    post_by_api(base, key, &format!("/api/v1/models/{model}/aliases"), &body)
}

/// POSTs `body` as JSON to `path` as a program would (plain HTTP/1.1 on loopback, the API key
/// as a bearer token) and returns the status code.
fn post_by_api(base: &str, key: &str, path: &str, body: &serde_json::Value) -> u16 {
    let host = base.trim_start_matches("http://");
    let body = body.to_string();
    let mut stream = TcpStream::connect(host).expect("connect to the server");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).expect("read the status line");
    status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

async fn promote(c: &Client, version: &str) -> TestResult {
    let select = c.find(Locator::Id("version")).await?;
    select.select_by_value(version).await?;
    // Set, not toggled: the form may be the one re-rendered after the previous move.
    c.execute("document.getElementById('confirm').checked = true", vec![]).await?;
    c.find(Locator::Css("#promote-form button[type=submit]")).await?.click().await?;
    c.wait().for_element(Locator::Id("promote-result")).await?;
    let text = text_of(c, "#promote-result").await?;
    assert_eq!(text, "Alias moved.", "{text}");
    Ok(())
}
