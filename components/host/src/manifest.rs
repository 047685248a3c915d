//! `spin.toml` (Spin manifest version 2): the part of it the embedded host serves.
//!
//! Unknown keys are kept out of the way rather than rejected, because Spin itself and its
//! plugins read sections (`[application.tool.*]`, other triggers) that the host ignores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// A loaded manifest, with paths resolved against the manifest's folder.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Folder of the manifest; relative paths in it are resolved from here.
    pub base_dir: PathBuf,
    pub application: Application,
    /// Application variables by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// HTTP triggers in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// Components by id.
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub trigger: ApplicationTriggers,
    /// `[application.tool.ecoc]`: settings only this host reads; Spin ignores them.
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApplicationTriggers {
    #[serde(default)]
    pub http: Option<HttpAppSettings>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpAppSettings {
    #[serde(default)]
    pub base: Option<String>,
}

/// `[variables]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// One `[[trigger.http]]`.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub component: String,
    pub route: RouteDecl,
}

/// A trigger's `route`: a pattern, or `{ private = true }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecl {
    Pattern(String),
    Private,
}

/// `[component.<id>]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ComponentDecl {
    pub source: ComponentSource,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub build: Option<BuildDecl>,
    /// `[component.<id>.tool.*]`: settings for tools; Spin ignores them. `tool.ecoc.preinit = true`
    /// makes `ecoc build` pre-initialise the component after building it (see `preinit.rs`).
    #[serde(default)]
    pub tool: BTreeMap<String, toml::Table>,
}

impl ComponentDecl {
    /// Whether `[component.<id>.tool.ecoc] preinit = true`.
    pub fn preinit(&self) -> bool {
        self.tool
            .get("ecoc")
            .and_then(|t| t.get("preinit"))
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ComponentSource {
    Local(PathBuf),
    Other(toml::Table),
}

/// `[component.<id>.build]`.
#[derive(Debug, Clone, Deserialize)]
pub struct BuildDecl {
    pub command: BuildCommand,
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    #[serde(default)]
    pub watch: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BuildCommand {
    One(String),
    Many(Vec<String>),
}

impl BuildCommand {
    /// The commands in order.
    pub fn commands(&self) -> Vec<&str> {
        match self {
            Self::One(c) => vec![c.as_str()],
            Self::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, ComponentDecl>,
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, base_dir).map_err(|message| Error::Manifest {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses manifest text; `base_dir` resolves relative paths.
    pub fn parse(text: &str, base_dir: PathBuf) -> std::result::Result<Self, String> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if raw.spin_manifest_version.as_integer() != Some(2) {
            return Err(format!(
                "spin_manifest_version must be 2, found {}",
                raw.spin_manifest_version
            ));
        }
        for name in raw.variables.keys() {
            check_variable_name(name)?;
        }
        for (id, decl) in &raw.component {
            check_component_id(id)?;
            if let ComponentSource::Other(_) = decl.source {
                return Err(format!(
                    "component `{id}`: only a local file `source` is supported by this host"
                ));
            }
            for name in decl.variables.keys() {
                check_variable_name(name).map_err(|e| format!("component `{id}` variable: {e}"))?;
            }
        }
        let mut http_triggers = Vec::new();
        for (kind, triggers) in &raw.trigger {
            if kind != "http" {
                return Err(format!(
                    "trigger type `{kind}` is not supported by this host (only `http`)"
                ));
            }
            for table in triggers {
                http_triggers.push(parse_http_trigger(table, &raw.component)?);
            }
        }
        Ok(Self {
            base_dir,
            application: raw.application,
            variables: raw.variables,
            http_triggers,
            components: raw.component,
        })
    }

    /// The `[application.tool.ecoc]` table, empty when absent.
    pub fn ecoc_settings(&self) -> toml::Table {
        self.application
            .tool
            .get("ecoc")
            .cloned()
            .unwrap_or_default()
    }

    /// Absolute (or base-relative) path of a component's wasm file.
    pub fn component_path(&self, decl: &ComponentDecl) -> PathBuf {
        match &decl.source {
            ComponentSource::Local(p) => self.base_dir.join(p),
            ComponentSource::Other(_) => PathBuf::new(),
        }
    }
}

fn parse_http_trigger(
    table: &toml::Table,
    components: &BTreeMap<String, ComponentDecl>,
) -> std::result::Result<HttpTrigger, String> {
    let component = match table.get("component") {
        Some(toml::Value::String(id)) => id.clone(),
        Some(_) => {
            return Err(
                "[[trigger.http]] `component` must name a [component.<id>] (inline components are not supported)"
                    .into(),
            );
        }
        None => return Err("[[trigger.http]] is missing `component`".into()),
    };
    if !components.contains_key(&component) {
        return Err(format!(
            "[[trigger.http]] names component `{component}`, which is not defined"
        ));
    }
    if let Some(executor) = table.get("executor") {
        let kind = executor.get("type").and_then(toml::Value::as_str);
        if kind != Some("spin") {
            return Err(format!(
                "component `{component}`: only the `spin` executor is supported"
            ));
        }
    }
    let route = match table.get("route") {
        Some(toml::Value::String(pattern)) => RouteDecl::Pattern(pattern.clone()),
        Some(toml::Value::Table(t)) => match t.get("private") {
            Some(toml::Value::Boolean(true)) => RouteDecl::Private,
            _ => {
                return Err(format!(
                    "component `{component}`: route must be a string pattern or `{{ private = true }}`"
                ));
            }
        },
        _ => {
            return Err(format!(
                "component `{component}`: trigger is missing `route`"
            ));
        }
    };
    Ok(HttpTrigger { component, route })
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and underscores,
/// starting with a letter.
pub fn check_variable_name(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "variable name {name:?} must start with a lowercase letter and use only a-z, 0-9 and _"
        ))
    }
}

/// Spin's rule for component ids: kebab-case words of lowercase letters and digits.
pub(crate) fn check_component_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.split('-').all(|word| {
            word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "component id {id:?} must be kebab-case (lowercase letters and digits, words joined by `-`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[application.tool.ecoc]
notify_at = "18:00"
[variables]
greeting = { default = "hi" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/hello/..."
component = "hello"
[[trigger.http]]
route = { private = true }
component = "inner"
[component.hello]
source = "hello.wasm"
allowed_outbound_hosts = ["http://inner.spin.internal"]
key_value_stores = ["default"]
variables = { message = "{{ greeting }} there" }
[component.hello.build]
command = "cargo build"
[component.inner]
source = "inner.wasm"
"#;

    #[test]
    fn parses_triggers_components_variables_and_tool_settings() {
        let m = Manifest::parse(SAMPLE, PathBuf::from("/app")).unwrap();
        assert_eq!(m.http_triggers.len(), 2);
        assert_eq!(
            m.http_triggers[0].route,
            RouteDecl::Pattern("/hello/...".into())
        );
        assert_eq!(m.http_triggers[1].route, RouteDecl::Private);
        assert!(m.variables["token"].required && m.variables["token"].secret);
        assert_eq!(
            m.component_path(&m.components["hello"]),
            PathBuf::from("/app/hello.wasm")
        );
        assert_eq!(
            m.ecoc_settings().get("notify_at").and_then(|v| v.as_str()),
            Some("18:00")
        );
    }

    #[test]
    fn refuses_undefined_component_and_bad_names() {
        let bad = SAMPLE.replace("component = \"inner\"", "component = \"nope\"");
        let err = Manifest::parse(&bad, PathBuf::new()).unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
        let bad = SAMPLE.replace("greeting = {", "Greeting = {");
        assert!(
            Manifest::parse(&bad, PathBuf::new())
                .unwrap_err()
                .contains("Greeting")
        );
        let bad = SAMPLE.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(
            Manifest::parse(&bad, PathBuf::new())
                .unwrap_err()
                .contains("must be 2")
        );
    }
}
