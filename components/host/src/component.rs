//! What the request path knows about a component and a request, shared by the app, the
//! platform interfaces and outbound HTTP: a component's id, stores, allowed hosts, client TLS
//! entries and environment; where a request came from; and the service-chaining depth guard.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::client_tls::ComponentClientTls;
use crate::outbound::AllowList;

/// How deep service-chaining calls may nest before the host refuses (loop guard).
pub const MAX_CHAIN_DEPTH: u32 = 16;
/// Header carrying the chaining depth between components.
pub(crate) const CHAIN_DEPTH_HEADER: &str = "ecoc-chain-depth";

/// What one component needs at request time.
#[derive(Debug)]
pub(crate) struct ComponentInfo {
    pub(crate) id: String,
    pub(crate) kv_labels: BTreeSet<String>,
    pub(crate) allow: AllowList,
    /// Its `[[client_tls]]` entries (runtime config), for HTTPS requests that leave the app.
    pub(crate) client_tls: ComponentClientTls,
    pub(crate) environment: Vec<(String, String)>,
}

/// Where a request came from, for the `spin-*` headers and the logs.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub client_addr: SocketAddr,
    /// Service-chaining depth: 0 for a request from outside.
    pub depth: u32,
}

/// Reads the chaining depth a component's outgoing request carries.
pub(crate) fn chain_depth(headers: &http::HeaderMap) -> u32 {
    headers
        .get(CHAIN_DEPTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
