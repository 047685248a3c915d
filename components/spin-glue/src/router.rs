//! Route tables: each public function declares its routes once, as data, and gets back which one
//! a request is for, with its path parameters. A known path asked with another method is a 405
//! naming the methods it takes (the answer's `Allow` header); an unknown path is a 404.
//!
//! Patterns are `/`-separated; a segment `{name}` takes one non-empty segment of the path (a
//! parameter), any other segment must be equal (`mapping:preview` is a literal segment).

use pipeline::{Error, Result};

/// One route: method, path pattern, and what the function calls it.
#[derive(Debug, Clone, Copy)]
pub struct Route<R> {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// The path pattern, e.g. `/v1/submissions/{id}/xml`.
    pub pattern: &'static str,
    /// The route's name in the function (usually an enum variant).
    pub name: R,
}

/// Shorthand for a [`Route`] in a table.
pub const fn route<R>(method: &'static str, pattern: &'static str, name: R) -> Route<R> {
    Route {
        method,
        pattern,
        name,
    }
}

/// The path parameters of a matched route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'p> {
    values: Vec<(&'static str, &'p str)>,
}

/// A type a path parameter reads as.
pub trait FromParam: Sized {
    /// The parameter's value as this type, or the error that says why it cannot be.
    fn from_param(value: &str) -> Result<Self>;
}

impl FromParam for String {
    fn from_param(value: &str) -> Result<Self> {
        Ok(value.to_owned())
    }
}

impl FromParam for pipeline::ids::RecordId {
    fn from_param(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl Params<'_> {
    /// The parameter `name` as typed: a value the type refuses is that type's error (a record id
    /// that cannot exist is a 404, say).
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T> {
        let value = self
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| Error::Internal(format!("route has no parameter `{name}`")))?;
        T::from_param(value)
    }
}

/// Parameters of `path` when it fits `pattern`.
fn fit<'p>(pattern: &'static str, path: &'p str) -> Option<Params<'p>> {
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    let mut params = Params::default();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.values.push((name, g));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Which route of `table` answers `method` on `path`.
pub fn find<'p, R: Copy>(
    table: &[Route<R>],
    method: &str,
    path: &'p str,
) -> Result<(R, Params<'p>)> {
    let mut allow: Vec<String> = Vec::new();
    for entry in table {
        if let Some(params) = fit(entry.pattern, path) {
            if entry.method.eq_ignore_ascii_case(method) {
                return Ok((entry.name, params));
            }
            if !allow.iter().any(|m| m == entry.method) {
                allow.push(entry.method.to_owned());
            }
        }
    }
    if allow.is_empty() {
        return Err(Error::NotFound(format!("no resource at {path}")));
    }
    Err(Error::MethodNotAllowed {
        message: format!(
            "{method} is not allowed on {path}; it takes {}",
            allow.join(", ")
        ),
        allow,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Name {
        List,
        One,
        Xml,
        Preview,
        Mapping,
        PutMapping,
    }

    const TABLE: &[Route<Name>] = &[
        route("GET", "/v1/submissions", Name::List),
        route("GET", "/v1/submissions/{id}", Name::One),
        route("GET", "/v1/submissions/{id}/xml", Name::Xml),
        route("POST", "/v1/tenant/mapping:preview", Name::Preview),
        route("GET", "/v1/tenant/mapping", Name::Mapping),
        route("PUT", "/v1/tenant/mapping", Name::PutMapping),
    ];

    #[test]
    fn routes_with_parameters_and_literals() {
        let (name, params) = find(TABLE, "GET", "/v1/submissions/r01/xml").unwrap();
        assert_eq!(name, Name::Xml);
        assert_eq!(params.get::<String>("id").unwrap(), "r01");
        assert_eq!(find(TABLE, "GET", "/v1/submissions").unwrap().0, Name::List);
        assert_eq!(
            find(TABLE, "POST", "/v1/tenant/mapping:preview").unwrap().0,
            Name::Preview
        );
        assert_eq!(
            find(TABLE, "PUT", "/v1/tenant/mapping").unwrap().0,
            Name::PutMapping
        );
    }

    #[test]
    fn a_wrong_method_is_405_with_the_methods_allowed() {
        let e = find(TABLE, "DELETE", "/v1/tenant/mapping").unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(e.to_body().allow, ["GET", "PUT"]);
        assert!(
            e.to_string()
                .contains("DELETE is not allowed on /v1/tenant/mapping")
        );
    }

    #[test]
    fn unknown_paths_and_empty_parameters_are_404() {
        for path in [
            "/v1/nothing",
            "/v1/submissions/",
            "/v1/submissions/r01/xml/more",
        ] {
            assert_eq!(
                find(TABLE, "GET", path).unwrap_err().status(),
                404,
                "{path}"
            );
        }
    }
}
