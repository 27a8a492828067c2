//! EC2, for preflight: which of the subnets and security groups a service's
//! network configuration names exist (`DescribeSubnets`,
//! `DescribeSecurityGroups`, filtered on the ids, so a missing one is simply
//! absent from the answer rather than an error for the whole batch).
//!
//! A thin EC2 Query client instead of `aws-sdk-ec2`: that crate is one of
//! the largest Rust crates there is (hundreds of generated operations).
//! Measured on the development machine (2 cores, `nice -n 19`, the other
//! AWS crates already built): `cargo build -p aws-sdk-ec2` (1.208, default
//! features off) was stopped after 421 s, its own rustc still running after
//! more than 330 s; that is minutes added to every clean build, for the two
//! read-only calls used here. So the request is the Query
//! protocol's form body, signed with `aws-sigv4` (the SDK's own signer, no
//! hand-written crypto) with the credentials of the same SDK config every
//! other client uses ([`super::config`]), sent with Ferry's one HTTPS
//! client ([`crate::http`]), and the answer read with `aws-smithy-xml`
//! (the SDK's XML reader). `AWS_ENDPOINT_URL_EC2`, then the config's
//! endpoint (`AWS_ENDPOINT_URL`), point it at a stand-in, as for the SDK
//! clients.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::ProvideCredentials;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::outside::{System, aws_check, line};

/// The EC2 API version of the Query requests.
const VERSION: &str = "2016-11-15";
/// Values per filter in one request (EC2 allows 200).
const CHUNK: usize = 100;
/// The most pages read for one chunk (a filtered answer has one or two).
const MAX_PAGES: usize = 20;
/// The longest answer read (a page of 100 subnets is far smaller).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An EC2 client of one region, from one loaded SDK config.
#[derive(Debug, Clone)]
pub struct Ec2 {
    config: aws_config::SdkConfig,
    region: String,
    endpoint: String,
}

/// Percent-encodes a form value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The form body of one Query request.
pub fn form(action: &str, params: &[(String, String)]) -> String {
    let mut body = format!("Action={}&Version={VERSION}", encode(action));
    for (k, v) in params {
        body.push('&');
        body.push_str(&encode(k));
        body.push('=');
        body.push_str(&encode(v));
    }
    body
}

/// The parameters of a filter on `name` with these values.
fn filter(name: &str, values: &[String]) -> Vec<(String, String)> {
    let mut params = vec![("Filter.1.Name".to_string(), name.to_string())];
    for (i, v) in values.iter().enumerate() {
        params.push((format!("Filter.1.Value.{}", i + 1), v.clone()));
    }
    params
}

/// The text of `scope`'s first child element named `name`; with `deep`,
/// of the first such element at any depth.
fn text_of(scope: &mut ScopedDecoder<'_, '_>, name: &str, deep: bool) -> Option<String> {
    while let Some(mut child) = scope.next_tag() {
        if child.start_el().local() == name {
            return try_data(&mut child).ok().map(|t| t.to_string());
        }
        if deep && let Some(found) = text_of(&mut child, name, true) {
            return Some(found);
        }
    }
    None
}

/// One page of a Describe answer: the `id` of each `item` of the list
/// element `list`, and the next page's token.
pub fn parse_page(
    body: &str,
    list: &str,
    id: &str,
) -> Result<(Vec<String>, Option<String>), String> {
    let mut doc = Document::new(body);
    let mut root = doc
        .root_element()
        .map_err(|e| format!("the answer is no XML: {e}"))?;
    let mut ids = Vec::new();
    let mut next = None;
    while let Some(mut tag) = root.next_tag() {
        let name = tag.start_el().local().to_string();
        if name == list {
            while let Some(mut item) = tag.next_tag() {
                if item.start_el().local() == "item"
                    && let Some(v) = text_of(&mut item, id, false)
                {
                    ids.push(v);
                }
            }
        } else if name == "nextToken" {
            next = try_data(&mut tag)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty());
        }
    }
    Ok((ids, next))
}

/// An EC2 error answer's code and message (`<Response><Errors><Error>`),
/// in one line.
pub fn parse_error(body: &str) -> Option<String> {
    let mut doc = Document::new(body);
    let mut root = doc.root_element().ok()?;
    let code = text_of(&mut root, "Code", true)?;
    let mut doc = Document::new(body);
    let mut root = doc.root_element().ok()?;
    let message = text_of(&mut root, "Message", true).unwrap_or_default();
    Some(format!("{code}: {message}"))
}

impl Ec2 {
    /// The client of the config's region and endpoint.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let region = config
            .region()
            .map_or_else(|| "us-east-1".to_string(), ToString::to_string);
        let endpoint = std::env::var("AWS_ENDPOINT_URL_EC2")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .or_else(|| config.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("https://ec2.{region}.amazonaws.com"));
        Self {
            config: config.clone(),
            region,
            endpoint: endpoint.trim_end_matches('/').to_string(),
        }
    }

    /// One signed Query request: the answer's body, or the failure in one
    /// line (`op target: AWS said …; check …`).
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        target: &str,
    ) -> Result<String, String> {
        let op = if target.is_empty() {
            action.to_string()
        } else {
            format!("{action} {target}")
        };
        let fail = |detail: &str| line(&op, System::Aws, detail, aws_check(detail));
        let body = form(action, params);
        // Throttling and server errors are tried again, a few times.
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            match tokio::time::timeout(TIMEOUT, self.send(&body)).await {
                Err(_) => last = format!("no answer in {} s", TIMEOUT.as_secs()),
                Ok(Err(e)) => last = e,
                Ok(Ok((status, text))) if (200..300).contains(&status) => return Ok(text),
                Ok(Ok((status, text))) => {
                    let detail =
                        parse_error(&text).unwrap_or_else(|| crate::outside::body_detail(&text));
                    let retry = status >= 500
                        || detail.starts_with("RequestLimitExceeded")
                        || detail.starts_with("Throttling");
                    if !retry {
                        return Err(fail(&format!("{status} {detail}")));
                    }
                    last = format!("{status} {detail}");
                }
            }
        }
        Err(fail(&last))
    }

    /// Signs and sends one form body: the status and the answer's text.
    async fn send(&self, body: &str) -> Result<(u16, String), String> {
        let provider = self
            .config
            .credentials_provider()
            .ok_or_else(|| "no AWS credentials".to_string())?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {}", crate::outside::chain(&e)))?;
        let identity = credentials.into();
        let url = format!("{}/", self.endpoint);
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("the request to {url} is invalid: {e}"))?;
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        request.headers_mut().insert(
            "host",
            http::HeaderValue::from_str(&host).map_err(|e| format!("bad host {host}: {e}"))?,
        );
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign: {e}"))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url.as_str(),
            headers.into_iter(),
            aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| format!("cannot sign: {e}"))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        let client = crate::http::client()?;
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::outside::chain(&e))?;
        let status = response.status().as_u16();
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("the answer could not be read: {e}"))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Which of `ids` exist, by a Describe call filtered on them (every
    /// page, [`CHUNK`] ids at a time).
    async fn existing(
        &self,
        action: &str,
        filter_name: &str,
        list: &str,
        id: &str,
        ids: &[String],
    ) -> Result<BTreeSet<String>, String> {
        let mut found = BTreeSet::new();
        for chunk in ids.chunks(CHUNK) {
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let mut params = filter(filter_name, chunk);
                if let Some(t) = token.take() {
                    params.push(("NextToken".into(), t));
                }
                let text = self.call(action, &params, &chunk.join(", ")).await?;
                let (page, next) = parse_page(&text, list, id).map_err(|e| {
                    line(
                        action,
                        System::Aws,
                        &e,
                        "the EC2 endpoint (AWS_ENDPOINT_URL_EC2)",
                    )
                })?;
                found.extend(page.into_iter().filter(|i| chunk.contains(i)));
                match next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        Ok(found)
    }

    /// `DescribeSubnets` filtered on `subnet-id`: the ids that exist.
    pub async fn subnets(&self, ids: &[String]) -> Result<BTreeSet<String>, String> {
        self.existing("DescribeSubnets", "subnet-id", "subnetSet", "subnetId", ids)
            .await
    }

    /// `DescribeSecurityGroups` filtered on `group-id`: the ids that exist.
    pub async fn security_groups(&self, ids: &[String]) -> Result<BTreeSet<String>, String> {
        self.existing(
            "DescribeSecurityGroups",
            "group-id",
            "securityGroupInfo",
            "groupId",
            ids,
        )
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_encoded_and_filters_are_numbered() {
        let params = filter("subnet-id", &["subnet-1".into(), "a b&c=d".into()]);
        assert_eq!(
            form("DescribeSubnets", &params),
            "Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=subnet-id&Filter.1.Value.1=subnet-1&Filter.1.Value.2=a%20b%26c%3Dd"
        );
    }

    #[test]
    fn a_page_gives_its_ids_and_the_next_token() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <subnetSet>
    <item><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><tagSet><item><key>subnetId</key><value>x</value></item></tagSet></item>
    <item><vpcId>vpc-1</vpcId><ipv6CidrBlockAssociationSet><item><subnetId>inner</subnetId></item></ipv6CidrBlockAssociationSet><subnetId>subnet-2</subnetId></item>
  </subnetSet>
  <nextToken>t2</nextToken>
</DescribeSubnetsResponse>"#;
        let (ids, next) = parse_page(body, "subnetSet", "subnetId").unwrap();
        assert_eq!(ids, ["subnet-1", "subnet-2"]);
        assert_eq!(next.as_deref(), Some("t2"));
        let empty = r#"<DescribeSecurityGroupsResponse><securityGroupInfo/></DescribeSecurityGroupsResponse>"#;
        assert_eq!(
            parse_page(empty, "securityGroupInfo", "groupId").unwrap(),
            (Vec::new(), None)
        );
        assert!(parse_page("not xml <", "subnetSet", "subnetId").is_err());
    }

    #[test]
    fn an_error_answer_is_its_code_and_message() {
        let body = r#"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        assert_eq!(
            parse_error(body).as_deref(),
            Some("UnauthorizedOperation: You are not authorized")
        );
        assert_eq!(parse_error("<html>bad gateway</html>"), None);
    }
}
