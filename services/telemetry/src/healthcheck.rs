//! `<service> healthcheck URL`: the container health check of an image that
//! has no shell and no curl (distroless).
//!
//! ECS runs the task definition's `healthCheck.command` inside the container;
//! the services' images hold nothing but the binary, so the binary probes its
//! own `/health` endpoint: exit 0 on a 2xx answer, 1 otherwise, within a
//! deadline well under ECS's health check timeout.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a probe may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// When the process was started as `<binary> healthcheck URL`, probes the URL
/// and returns the exit code; otherwise None (start the service as usual).
pub fn from_args() -> Option<i32> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("healthcheck") {
        return None;
    }
    let Some(url) = args.next() else {
        eprintln!("usage: healthcheck http://127.0.0.1:PORT/health");
        return Some(2);
    };
    Some(match probe(&url, TIMEOUT) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("healthcheck {url}: {e}");
            1
        }
    })
}

/// GETs a plain-HTTP `url` and succeeds on a 2xx status.
pub fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        "only http:// URLs are probed (the service listens on plain HTTP)".to_string()
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("bad address {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: healthcheck\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send: {e}"))?;
    // The status line is all that matters; read just enough of it.
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// Serves one connection with `answer` and returns the URL.
    fn serve_once(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer.as_bytes());
            }
        });
        format!("http://127.0.0.1:{port}/health")
    }

    #[test]
    fn healthy_unhealthy_and_unreachable() {
        assert_eq!(
            probe(
                &serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
                TIMEOUT
            ),
            Ok(())
        );
        assert_eq!(
            probe(
                &serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n"),
                TIMEOUT
            ),
            Err("answered 503".into())
        );
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = probe(&format!("http://127.0.0.1:{closed}/health"), TIMEOUT).unwrap_err();
        assert!(err.starts_with("cannot connect"), "{err}");
        assert!(probe("https://x/health", TIMEOUT).is_err());
        assert!(
            probe(&serve_once("garbage"), TIMEOUT)
                .unwrap_err()
                .starts_with("not an HTTP answer")
        );
    }
}
