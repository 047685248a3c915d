//! `fermyon:spin/variables`: application `[variables]`, component templates and
//! `SPIN_VARIABLE_<NAME>` environment overrides, resolved once at start.
//!
//! All sources here are static, so every component's variables are expanded when the app
//! loads; a missing required variable stops the host before it serves anything. Values are
//! never logged: [`Resolved`] implements `Debug` without them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::manifest::{Manifest, check_variable_name};

/// Prefix of the environment variables that override application variables.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// Variables resolved for every component.
#[derive(Clone, Default)]
pub struct Resolved {
    app: BTreeMap<String, String>,
    components: BTreeMap<String, BTreeMap<String, String>>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("app", &self.app.keys().collect::<Vec<_>>())
            .field("components", &self.components.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a component's `variables::get` failed, as the WIT `error` variant says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    InvalidName(String),
    Undefined(String),
}

impl Resolved {
    /// Resolves every variable of `manifest`, reading overrides through `env`.
    pub fn resolve(manifest: &Manifest, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut app = BTreeMap::new();
        for (name, decl) in &manifest.variables {
            let env_name = env_name(name);
            let value = env(&env_name).or_else(|| decl.default.clone());
            match value {
                Some(v) => {
                    app.insert(name.clone(), v);
                }
                None if decl.required => {
                    return Err(Error::MissingVariable {
                        name: name.clone(),
                        env: name.to_ascii_uppercase(),
                    });
                }
                None => {
                    return Err(Error::Variable(format!(
                        "variable `{name}` needs a `default` or `required = true`"
                    )));
                }
            }
        }
        let mut components = BTreeMap::new();
        for (id, decl) in &manifest.components {
            let mut vars = BTreeMap::new();
            for (name, template) in &decl.variables {
                let value = expand(template, &|n| app.get(n).cloned()).map_err(|e| {
                    Error::Variable(format!("component `{id}` variable `{name}`: {e}"))
                })?;
                vars.insert(name.clone(), value);
            }
            components.insert(id.clone(), vars);
        }
        Ok(Self { app, components })
    }

    /// What `variables::get(name)` answers inside `component`.
    pub fn get(&self, component: &str, name: &str) -> Result<String, GetError> {
        check_variable_name(name).map_err(GetError::InvalidName)?;
        self.components
            .get(component)
            .and_then(|vars| vars.get(name))
            .cloned()
            .ok_or_else(|| GetError::Undefined(format!("no variable for {component:?}.{name:?}")))
    }

    /// Expands `{{ name }}` in `template` for `component`: its own variables first, then the
    /// application's. Used for `allowed_outbound_hosts`.
    pub fn expand_for(&self, component: &str, template: &str) -> Result<String, String> {
        let own = self.components.get(component);
        expand(template, &|n| {
            own.and_then(|v| v.get(n))
                .or_else(|| self.app.get(n))
                .cloned()
        })
    }
}

/// `SPIN_VARIABLE_<NAME>` for a variable name.
pub fn env_name(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// Replaces each `{{ name }}` in `template` with `lookup(name)`.
pub fn expand(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in {template:?}"))?;
        let name = after[..end].trim();
        check_variable_name(name)?;
        let value =
            lookup(name).ok_or_else(|| format!("template names unknown variable `{name}`"))?;
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest(vars: &str) -> Manifest {
        let text = format!(
            r#"spin_manifest_version = 2
[application]
name = "t"
[variables]
{vars}
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
variables = {{ greeting = "Hello, {{{{ who }}}}!", raw = "plain" }}
"#
        );
        Manifest::parse(&text, PathBuf::new()).unwrap()
    }

    #[test]
    fn defaults_templates_and_environment() {
        let m = manifest(r#"who = { default = "world" }"#);
        let r = Resolved::resolve(&m, |_| None).unwrap();
        assert_eq!(r.get("c", "greeting").unwrap(), "Hello, world!");
        assert_eq!(r.get("c", "raw").unwrap(), "plain");
        let r =
            Resolved::resolve(&m, |k| (k == "SPIN_VARIABLE_WHO").then(|| "ERP".into())).unwrap();
        assert_eq!(r.get("c", "greeting").unwrap(), "Hello, ERP!");
    }

    #[test]
    fn required_variable_without_value_names_it() {
        let m = manifest(r#"who = { required = true, secret = true }"#);
        let err = Resolved::resolve(&m, |_| None).unwrap_err().to_string();
        assert!(
            err.contains("`who`") && err.contains("SPIN_VARIABLE_WHO"),
            "{err}"
        );
    }

    #[test]
    fn undefined_and_invalid_names() {
        let m = manifest(r#"who = { default = "x" }"#);
        let r = Resolved::resolve(&m, |_| None).unwrap();
        assert!(matches!(r.get("c", "nope"), Err(GetError::Undefined(_))));
        assert!(matches!(
            r.get("c", "Bad-Name"),
            Err(GetError::InvalidName(_))
        ));
        assert!(!format!("{r:?}").contains("Hello"));
    }

    #[test]
    fn expand_reports_unknown_and_unclosed() {
        assert!(expand("{{ x }}", &|_| None).unwrap_err().contains("`x`"));
        assert!(expand("{{ x", &|_| None).unwrap_err().contains("unclosed"));
        assert_eq!(expand("a{{x}}b", &|_| Some("1".into())).unwrap(), "a1b");
    }
}
