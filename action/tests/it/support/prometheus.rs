//! A real Prometheus (Debian's `prometheus`) serving recorded series: the
//! test writes them as OpenMetrics text, `promtool tsdb create-blocks-from
//! openmetrics` backfills them into a fresh data folder, and the server
//! starts on a free 127.0.0.1 port with nothing to scrape.
//!
//! Prometheus (2.42, Debian 12's) serves backfilled samples dated in the
//! future too: an instant query at time t answers the latest sample at or
//! before t, so a series written ahead of time plays out as the clock runs
//! (the analysis tests use this for a metric that changes during a rollout).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A running Prometheus, stopped (by its PID) when dropped.
pub struct Prometheus {
    child: Child,
    /// Its base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `# TYPE <name> gauge` and one sample line per `(labels, value, time)`:
/// a block of OpenMetrics text for [`Prometheus::start`].
pub fn gauge<'a>(name: &str, samples: impl IntoIterator<Item = (&'a str, f64, u64)>) -> String {
    let mut om = format!("# TYPE {name} gauge\n");
    for (labels, value, at) in samples {
        om.push_str(&format!("{name}{{{labels}}} {value} {at}\n"));
    }
    om
}

impl Prometheus {
    /// Backfills `openmetrics` (sample lines with their timestamps in
    /// seconds; `# EOF` is added when missing) and starts a server on it.
    /// Without a `prometheus` binary it panics: the test bed installs one,
    /// and a test that needs it must not pass without it.
    pub fn start(openmetrics: &str) -> Self {
        Self::start_on(free_port(), openmetrics)
    }

    /// [`Prometheus::start`] on `port` (chosen beforehand, when its URL
    /// must be written before the series are known).
    pub fn start_on(port: u16, openmetrics: &str) -> Self {
        if Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("no `prometheus` binary on PATH: scripts/testbed install installs Debian's");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut om = openmetrics.to_string();
        if !om.trim_end().ends_with("# EOF") {
            om.push_str("# EOF\n");
        }
        let file = dir.path().join("series.om");
        std::fs::write(&file, om).unwrap();
        let data = dir.path().join("data");
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", config.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut prom = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        // Up to 30 s: two cores shared with the whole test binary.
        for _ in 0..300 {
            if let Ok(Some(status)) = prom.child.try_wait() {
                panic!(
                    "Prometheus on {} exited at start ({status}): is the port taken?",
                    prom.url
                );
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = write!(s, "GET /-/ready HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                    return prom;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Prometheus did not become ready on {}", prom.url);
    }

    /// The same port, new series: stops this server and starts another
    /// there (for a URL written down before the series were known).
    pub fn restart(self, openmetrics: &str) -> Self {
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a Prometheus URL ends with its port");
        drop(self);
        Self::start_on(port, openmetrics)
    }
}
