//! A recorder: a tiny local HTTP listener that answers every request with
//! `500` and remembers its request line. Hand-written on purpose: the tests
//! point `AWS_ENDPOINT_URL` here to prove that *no* AWS call is made (moto
//! would answer, and an answer could hide a call); no stand-in records
//! "nothing happened".

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The listener and what it has seen.
pub struct Recorder {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    /// Starts listening on a free loopback port (a thread that lives as long
    /// as the test process).
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut first = String::new();
                let _ = BufReader::new(&stream).read_line(&mut first);
                log.lock().unwrap().push(first.trim().to_string());
                let _ = stream.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { url, seen }
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}
