//! `allowed_outbound_hosts`: which URLs a component may call, with Spin's rules.
//!
//! An entry is `scheme://host[:port]`. The scheme may be `*`; the host may be `*`, `*.suffix`,
//! a name, an IP, `self` (relative requests back into the app) or `<component>.spin.internal`
//! / `*.spin.internal` (service chaining); the port may be `*`, `N` or `A..B`, and defaults to
//! the scheme's port. Entries may contain `{{ variable }}` templates, expanded at load.

use crate::error::{Error, Result};

/// Suffix of service-chaining host names.
pub const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com` matches `a.example.com` (not `example.com`).
    Suffix(String),
    Exact(String),
    /// `self`: relative requests, routed through the app's public routes.
    ToSelf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

/// A destination, as the component asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub scheme: String,
    /// Lowercase host; empty for a relative request.
    pub host: String,
    pub port: Option<u16>,
}

impl Destination {
    /// Parses `scheme` and `authority` (`host[:port]`, empty for relative requests).
    pub fn new(scheme: &str, authority: &str) -> Self {
        let (host, port) = split_authority(authority);
        Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        }
    }

    /// The port, or the scheme's default.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }

    /// The component a service-chaining request goes to, if it is one.
    pub fn chained_component(&self) -> Option<&str> {
        self.host.strip_suffix(SERVICE_CHAINING_SUFFIX)
    }

    /// Whether this is a relative request (or `http://self`) back into the app.
    pub fn is_self(&self) -> bool {
        self.host.is_empty() || self.host == "self" || self.host == "self.alt"
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.is_empty() {
            "self"
        } else {
            &self.host
        };
        match self.port {
            Some(p) => write!(f, "{}://{host}:{p}", self.scheme),
            None => write!(f, "{}://{host}", self.scheme),
        }
    }
}

fn split_authority(authority: &str) -> (&str, Option<u16>) {
    // Bracketed IPv6 literal.
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host, port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
            (host, port.parse().ok())
        }
        _ => (authority, None),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "redis" => Some(6379),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        _ => None,
    }
}

impl AllowedHost {
    /// Parses one (already template-expanded) entry.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| "must start with a scheme, like `https://`".to_string())?;
        if scheme.is_empty() {
            return Err("scheme is empty".into());
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err("must not contain a path".into());
        }
        let scheme = (scheme != "*").then(|| scheme.to_ascii_lowercase());
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
            _ => (rest, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = match host.to_ascii_lowercase().as_str() {
            "" => return Err("host is empty".into()),
            "*" => HostPattern::Any,
            "self" | "self.alt" => HostPattern::ToSelf,
            h if h.starts_with("*.") => HostPattern::Suffix(h[1..].to_string()),
            h if h.contains('*') => {
                return Err("`*` is allowed only as the whole host or as `*.domain`".into());
            }
            h => HostPattern::Exact(h.to_string()),
        };
        let port = match port {
            Some("*") => PortPattern::Any,
            Some(p) => {
                if let Some((a, b)) = p.split_once("..") {
                    let a: u16 = a.parse().map_err(|_| format!("bad port range {p:?}"))?;
                    let b: u16 = b.parse().map_err(|_| format!("bad port range {p:?}"))?;
                    if a > b {
                        return Err(format!("bad port range {p:?}"));
                    }
                    PortPattern::Range(a, b)
                } else {
                    let n: u16 = p.parse().map_err(|_| format!("bad port {p:?}"))?;
                    PortPattern::Range(n, n)
                }
            }
            None => match scheme.as_deref() {
                _ if matches!(host, HostPattern::ToSelf) => PortPattern::Any,
                Some(s) => match default_port(s) {
                    Some(n) => PortPattern::Range(n, n),
                    None => return Err(format!("scheme `{s}` has no default port: give one")),
                },
                None => return Err("a `*` scheme needs an explicit port".into()),
            },
        };
        Ok(Self {
            original: entry.to_string(),
            scheme,
            host,
            port,
        })
    }

    /// Whether this entry lets a component reach `dest`.
    pub fn allows(&self, dest: &Destination) -> bool {
        if let Some(s) = &self.scheme
            && *s != dest.scheme
        {
            return false;
        }
        let host_ok = match &self.host {
            HostPattern::Any => !dest.is_self(),
            HostPattern::ToSelf => dest.is_self(),
            HostPattern::Suffix(sfx) => dest.host.ends_with(sfx.as_str()),
            HostPattern::Exact(h) => *h == dest.host,
        };
        if !host_ok {
            return false;
        }
        if matches!(self.host, HostPattern::ToSelf) {
            return true;
        }
        match (&self.port, dest.effective_port()) {
            (PortPattern::Any, _) => true,
            (PortPattern::Range(a, b), Some(p)) => (*a..=*b).contains(&p),
            (PortPattern::Range(..), None) => false,
        }
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

/// The parsed list of one component.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<AllowedHost>);

impl AllowList {
    /// Parses a component's entries after `expand` resolved their templates.
    pub fn parse(
        component: &str,
        entries: &[String],
        expand: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Self> {
        let mut hosts = Vec::with_capacity(entries.len());
        for entry in entries {
            let fail = |message: String| Error::OutboundHost {
                entry: entry.clone(),
                component: component.to_string(),
                message,
            };
            let expanded = expand(entry).map_err(fail)?;
            hosts.push(AllowedHost::parse(&expanded).map_err(fail)?);
        }
        Ok(Self(hosts))
    }

    pub fn allows(&self, dest: &Destination) -> bool {
        self.0.iter().any(|h| h.allows(dest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, scheme: &str, authority: &str) -> bool {
        AllowedHost::parse(entry)
            .unwrap()
            .allows(&Destination::new(scheme, authority))
    }

    #[test]
    fn exact_hosts_use_the_scheme_default_port() {
        assert!(allows(
            "https://qtsp.example.com",
            "https",
            "qtsp.example.com"
        ));
        assert!(allows(
            "https://qtsp.example.com",
            "https",
            "qtsp.example.com:443"
        ));
        assert!(!allows(
            "https://qtsp.example.com",
            "https",
            "qtsp.example.com:8443"
        ));
        assert!(!allows(
            "https://qtsp.example.com",
            "http",
            "qtsp.example.com"
        ));
        assert!(!allows("https://qtsp.example.com", "https", "evil.com"));
    }

    #[test]
    fn wildcards_and_ranges() {
        assert!(allows("http://127.0.0.1:*", "http", "127.0.0.1:3001"));
        assert!(allows(
            "*://*.example.com:8000..8010",
            "http",
            "a.example.com:8005"
        ));
        assert!(!allows(
            "*://*.example.com:8000..8010",
            "http",
            "example.com:8005"
        ));
        assert!(!allows(
            "*://*.example.com:8000..8010",
            "http",
            "a.example.com:8011"
        ));
        assert!(allows("http://*:*", "http", "anything:1"));
        assert!(!allows("http://*:*", "http", ""), "`*` does not mean self");
    }

    #[test]
    fn service_chaining_and_self() {
        assert!(allows(
            "http://*.spin.internal",
            "http",
            "sign.spin.internal"
        ));
        assert!(allows(
            "http://sign.spin.internal",
            "http",
            "sign.spin.internal"
        ));
        assert!(!allows(
            "http://sign.spin.internal",
            "http",
            "submit.spin.internal"
        ));
        assert!(allows("http://self", "http", ""));
        assert!(allows("http://self", "http", "self"));
        assert_eq!(
            Destination::new("http", "sign.spin.internal").chained_component(),
            Some("sign")
        );
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        assert!(
            AllowedHost::parse("example.com")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(
            AllowedHost::parse("https://ex*mple.com")
                .unwrap_err()
                .contains("`*`")
        );
        assert!(
            AllowedHost::parse("*://example.com")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            AllowedHost::parse("https://a.com/path")
                .unwrap_err()
                .contains("path")
        );
        assert!(
            AllowedHost::parse("http://a.com:9..1")
                .unwrap_err()
                .contains("range")
        );
    }
}
