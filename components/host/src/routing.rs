//! HTTP routing with Spin's rules: exact routes, trailing `/...` wildcards, `:name` segments,
//! the most specific match wins, private components get no route at all.
//!
//! Matching is delegated to `routefinder`, the crate Spin's own router is built on, so both
//! hosts pick the same component for the same path.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::manifest::{HttpTrigger, RouteDecl};

/// Paths under this prefix belong to the host (health, info), never to a component.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

#[derive(Debug, Clone)]
struct Entry {
    component: String,
    /// The route as written in the manifest, e.g. `/v1/...`.
    raw_route: String,
    /// For a wildcard route, the prefix before `/...` (empty for `/...`).
    wildcard_prefix: Option<String>,
}

/// The public routing table.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Entry>,
}

/// What a request matched: everything the `spin-*` headers are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub component: String,
    pub raw_route: String,
    /// The part of the path after a wildcard route's prefix (`/a/b`), empty otherwise.
    pub path_info: String,
    /// `:name` captures.
    pub named: BTreeMap<String, String>,
}

impl RouteMatch {
    /// The match Spin synthesises for a service-chaining request: route `/...`, the whole
    /// path as path info.
    pub fn synthetic(component: &str, path: &str) -> Self {
        Self {
            component: component.to_string(),
            raw_route: "/...".into(),
            path_info: path.to_string(),
            named: BTreeMap::new(),
        }
    }

    /// `spin-component-route`: the raw route without its `/...` suffix.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

impl Router {
    /// Builds the table from the manifest's triggers. A later duplicate route replaces an
    /// earlier one, as in Spin (with a warning).
    pub fn build(triggers: &[HttpTrigger]) -> Result<Self> {
        let mut by_route: BTreeMap<String, Entry> = BTreeMap::new();
        for trigger in triggers {
            let RouteDecl::Pattern(route) = &trigger.route else {
                continue;
            };
            let fail = |message: &str| Error::Route {
                route: route.clone(),
                component: trigger.component.clone(),
                message: message.to_string(),
            };
            if !route.starts_with('/') {
                return Err(fail("a route must start with `/`"));
            }
            if route.starts_with(WELL_KNOWN_PREFIX) {
                return Err(fail(
                    "routes under /.well-known/spin/ are reserved for the host",
                ));
            }
            let wildcard_prefix = route
                .strip_suffix("/...")
                .map(str::to_string)
                .or_else(|| (route == "/...").then(String::new));
            if let Some(previous) = by_route.get(route) {
                tracing::warn!(
                    route = %route,
                    replaced = %previous.component,
                    effective = %trigger.component,
                    "duplicate route: the later trigger wins"
                );
            }
            by_route.insert(
                route.clone(),
                Entry {
                    component: trigger.component.clone(),
                    raw_route: route.clone(),
                    wildcard_prefix,
                },
            );
        }
        let mut inner = routefinder::Router::new();
        for (route, entry) in by_route {
            let spec = match &entry.wildcard_prefix {
                Some(prefix) => format!("{prefix}/*"),
                None => route.clone(),
            };
            inner
                .add(spec.as_str(), entry)
                .map_err(|message| Error::Route {
                    route: route.clone(),
                    component: String::new(),
                    message,
                })?;
        }
        Ok(Self { inner })
    }

    /// The component serving `path`, if any.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let found = self.inner.best_match(path)?;
        let entry = found.handler();
        let captures = found.captures();
        // Spin's path info: the wildcard's part of the path with its leading `/`, and a
        // trailing `/` kept (routefinder drops it).
        let path_info = match (entry.wildcard_prefix.is_some(), captures.wildcard()) {
            (true, Some(rest)) if !rest.is_empty() => {
                let slash = if path.ends_with('/') && !rest.ends_with('/') {
                    "/"
                } else {
                    ""
                };
                format!("/{rest}{slash}")
            }
            (true, _) if path.ends_with('/') => "/".to_string(),
            _ => String::new(),
        };
        let named = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(RouteMatch {
            component: entry.component.clone(),
            raw_route: entry.raw_route.clone(),
            path_info,
            named,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<_> = routes
            .iter()
            .map(|(route, component)| HttpTrigger {
                component: component.to_string(),
                route: if *route == "private" {
                    RouteDecl::Private
                } else {
                    RouteDecl::Pattern(route.to_string())
                },
            })
            .collect();
        Router::build(&triggers).unwrap()
    }

    fn component(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let r = router(&[
            ("/...", "fallback"),
            ("/api/...", "api"),
            ("/api/users/...", "users"),
            ("/api/health", "health"),
            ("private", "inner"),
        ]);
        assert_eq!(component(&r, "/api/health").as_deref(), Some("health"));
        assert_eq!(component(&r, "/api/users/7").as_deref(), Some("users"));
        assert_eq!(component(&r, "/api/other").as_deref(), Some("api"));
        assert_eq!(component(&r, "/api").as_deref(), Some("api"));
        assert_eq!(component(&r, "/elsewhere").as_deref(), Some("fallback"));
        let m = r.route("/api/users/7/orders").unwrap();
        assert_eq!(m.path_info, "/7/orders");
        assert_eq!(m.component_route(), "/api/users");
    }

    #[test]
    fn no_match_without_fallback_and_named_segments() {
        let r = router(&[
            ("/v1/submissions/:id", "status"),
            ("/exact", "e"),
            ("/items/:id/...", "items"),
        ]);
        let m = r.route("/items/42/a/b").unwrap();
        assert_eq!(m.named.get("id").map(String::as_str), Some("42"));
        assert_eq!(m.path_info, "/a/b");
        assert_eq!(component(&r, "/exact/more"), None);
        assert_eq!(component(&r, "/nothing"), None);
        let m = r.route("/v1/submissions/abc").unwrap();
        assert_eq!(m.named.get("id").map(String::as_str), Some("abc"));
        assert_eq!(m.path_info, "");
    }

    #[test]
    fn reserved_and_malformed_routes_are_refused() {
        let bad = |route: &str| {
            Router::build(&[HttpTrigger {
                component: "c".into(),
                route: RouteDecl::Pattern(route.into()),
            }])
            .unwrap_err()
            .to_string()
        };
        assert!(bad("/.well-known/spin/x").contains("reserved"));
        assert!(bad("nope").contains("start with"));
    }
}
