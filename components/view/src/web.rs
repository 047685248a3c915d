//! The web rules of the view, kept apart from Spin so they are tested natively: the session
//! cookie, the same-origin check of every POST, the security headers of every answer, and
//! reading and writing `application/x-www-form-urlencoded` (forms and query strings).

/// The session cookie's name; its value is the API token itself (checked on every request with
/// `GET /v1/whoami`, so a revoked token ends its sessions at once).
pub const SESSION_COOKIE: &str = "ecoc_session";

/// The path the cookie is sent to: the view's routes only, never the API's.
pub const COOKIE_PATH: &str = "/view";

/// Content type of every page.
pub const HTML: &str = "text/html; charset=utf-8";

/// `Content-Security-Policy` of every answer: nothing but the view's own stylesheet and images
/// (no script at all), forms post only to the view, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

/// Headers every answer of the view carries.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// Longest token the login form accepts (API tokens are 45 characters).
pub const MAX_TOKEN_LEN: usize = 256;

/// Whether `token` can be an API token: 1..=[`MAX_TOKEN_LEN`] characters of letters, digits,
/// `-`, `_`, `.`, `~` (so it is safe as a cookie value and in an `Authorization` header).
pub fn plausible_token(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The session token of a `Cookie` header, if it holds a plausible one.
pub fn session_token(cookie_header: Option<&str>) -> Option<String> {
    cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| plausible_token(value))
        .map(str::to_owned)
}

/// `Set-Cookie` for a new session: not readable by scripts, never sent by another site's
/// request, only to the view's paths; `Secure` when the request came over HTTPS.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}{secure}")
}

/// `Set-Cookie` that ends the session.
pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Max-Age=0; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}{secure}")
}

/// Whether the request came over HTTPS: the URL the host saw (`spin-full-url`), or a proxy's
/// `X-Forwarded-Proto` in front of it.
pub fn came_over_https(full_url: Option<&str>, forwarded_proto: Option<&str>) -> bool {
    full_url.is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
        || forwarded_proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The `host[:port]` of an absolute URL (`https://a.example:8443/x` -> `a.example:8443`).
pub fn authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Credentials before `@` are not part of the origin.
    Some(authority.rsplit('@').next().unwrap_or(authority))
}

/// The host a request was sent to: its `Host` header when the component sees one (a WASI host
/// may keep that header to itself), else the authority of the URL the host saw (`spin-full-url`),
/// else of the request's own URI.
pub fn request_host<'a>(
    host: Option<&'a str>,
    full_url: Option<&'a str>,
    uri: Option<&'a str>,
) -> Option<&'a str> {
    host.filter(|h| !h.trim().is_empty())
        .or_else(|| full_url.and_then(authority))
        .or_else(|| uri.and_then(authority))
        .filter(|h| !h.is_empty())
}

/// Whether a POST comes from the view's own pages: its `Origin` (else its `Referer`) names the
/// request's `Host`. A request with neither is let through (old browsers, scripts: the session
/// cookie is `SameSite=Strict` anyway); `Origin: null` or another host is not.
pub fn same_origin(host: Option<&str>, origin: Option<&str>, referer: Option<&str>) -> bool {
    let claimed = match (origin.map(str::trim), referer.map(str::trim)) {
        (Some(origin), _) if !origin.is_empty() => origin,
        (_, Some(referer)) if !referer.is_empty() => referer,
        _ => return true,
    };
    match (host, authority(claimed)) {
        (Some(host), Some(from)) => !from.is_empty() && from.eq_ignore_ascii_case(host.trim()),
        _ => false,
    }
}

/// A decoded form body or query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte; invalid
    /// UTF-8 is replaced, never an error).
    pub fn parse(bytes: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// The first value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty when not given.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }
}

/// A query string of the non-empty `pairs`, encoded (`vin=WVW*&status=failed`); empty when
/// every value is.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// `path` and `query` (`path?query`, or `path` alone when the query is empty).
pub fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// `text` as one path segment (token names in URLs).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_strict_and_read_back() {
        let c = session_cookie("ecoc_abc", false);
        assert_eq!(
            c,
            "ecoc_session=ecoc_abc; HttpOnly; SameSite=Strict; Path=/view"
        );
        assert!(session_cookie("ecoc_abc", true).ends_with("; Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
        assert_eq!(
            session_token(Some("a=1; ecoc_session=ecoc_abc; b=2")).as_deref(),
            Some("ecoc_abc")
        );
        assert_eq!(session_token(Some("ecoc_session=")), None);
        assert_eq!(session_token(Some("ecoc_session=a b")), None);
        assert_eq!(session_token(Some("other=ecoc_abc")), None);
        assert_eq!(session_token(None), None);
        assert!(!plausible_token("tok\r\nSet-Cookie: x"));
        assert!(!plausible_token(&"a".repeat(MAX_TOKEN_LEN + 1)));
    }

    #[test]
    fn posts_must_come_from_the_same_host() {
        let host = Some("127.0.0.1:3000");
        assert!(same_origin(host, Some("http://127.0.0.1:3000"), None));
        assert!(same_origin(
            host,
            None,
            Some("http://127.0.0.1:3000/view/submissions/r1")
        ));
        assert!(same_origin(host, None, None), "neither header: let through");
        assert!(!same_origin(host, Some("http://evil.example"), None));
        assert!(!same_origin(host, Some("null"), None));
        assert!(!same_origin(
            host,
            Some("http://127.0.0.1:3000.evil.example"),
            None
        ));
        assert!(!same_origin(
            host,
            None,
            Some("http://evil.example/?http://127.0.0.1:3000")
        ));
        assert!(!same_origin(None, Some("http://127.0.0.1:3000"), None));
        assert!(same_origin(
            Some("View.Example"),
            Some("https://view.example"),
            None
        ));
    }

    #[test]
    fn the_host_comes_from_the_header_else_the_url() {
        assert_eq!(
            request_host(Some("a:1"), Some("http://b:2/view/"), None),
            Some("a:1")
        );
        assert_eq!(
            request_host(None, Some("http://b:2/view/?x"), Some("http://c/")),
            Some("b:2")
        );
        assert_eq!(
            request_host(None, None, Some("http://c:3/view")),
            Some("c:3")
        );
        assert_eq!(request_host(None, None, Some("/view")), None);
        assert_eq!(
            authority("https://u:p@d.example:8443/x"),
            Some("d.example:8443")
        );
    }

    #[test]
    fn https_is_seen_from_the_url_or_the_proxy() {
        assert!(came_over_https(Some("https://a.example/view/"), None));
        assert!(came_over_https(Some("http://a/view/"), Some("https")));
        assert!(!came_over_https(Some("http://a/view/"), None));
    }

    #[test]
    fn forms_and_queries_round_trip() {
        let f = Form::parse(b"vin=WVW%2A&status=&from=2026-11-01&note=a+b%3Cc");
        assert_eq!(f.get("vin"), Some("WVW*"));
        assert_eq!(f.value("status"), "");
        assert_eq!(f.value("missing"), "");
        assert_eq!(f.value("note"), "a b<c");
        let q = query(&[("vin", "WVW*"), ("status", ""), ("from", "2026-11-01")]);
        assert_eq!(q, "vin=WVW*&from=2026-11-01");
        assert_eq!(Form::parse(q.as_bytes()).get("vin"), Some("WVW*"));
        assert_eq!(query(&[("a", "x&y=z")]), "a=x%26y%3Dz");
        assert_eq!(with_query("/p", ""), "/p");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }
}
