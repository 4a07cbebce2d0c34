//! The HTTP readiness and health probe of the JobManager's REST endpoint.

use std::time::Duration;

/// Probes one URL; ready means HTTP 200 within the timeout.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    client: reqwest::Client,
    url: String,
}

impl Probe {
    /// A probe of `url` whose requests give up after `timeout`.
    pub(crate) fn new(url: &str, timeout: Duration) -> Probe {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .expect("a plain HTTP client always builds");
        Probe { client, url: url.to_string() }
    }

    /// True when the URL answers 200.
    pub(crate) async fn check(&self) -> bool {
        match self.client.get(&self.url).send().await {
            Ok(response) => response.status() == reqwest::StatusCode::OK,
            Err(_) => false,
        }
    }
}
