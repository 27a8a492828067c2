//! The one HTTPS client set-up for the outside systems Ferry reaches with
//! hyper (image registries, Prometheus): rustls with the ring provider and
//! the system's roots, plain `http://` only where the caller's URL says so,
//! HTTP/1.

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The connector every hyper client of Ferry uses.
pub type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A hyper client sending `B` bodies; Err when the system's TLS roots cannot
/// be read (its text is the reason, for the caller's error).
pub fn client<B>() -> Result<Client<Https, B>, String>
where
    B: hyper::body::Body + Send,
    B::Data: Send,
{
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}
