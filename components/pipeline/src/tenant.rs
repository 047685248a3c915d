//! Tenants, their API tokens and roles, and webhook signatures.
//!
//! Keys (store `default`): `tenant/{id}` the [`Tenant`]; `token/{sha256(token)}` a [`TokenRecord`];
//! `t/{id}/tokens` the tenant's token list (names, roles, hashes: never the tokens). A token is shown
//! once, when issued.
//!
//! Roles as the VCA defines them: `primary` (manage tokens and the tenant's settings, upload, view,
//! sign off held records), `upload` (upload, view), `view` (view). A tenant always keeps one primary.

use base64ct::Encoding;
use serde_json::Value;

use crate::FieldError;
use crate::approvals::Approvals;
use crate::clock;
use crate::csv_batch::Delimiter;
use crate::document::{Document, Problems};
use crate::identity::{Destination, Route, Signer};
use crate::ids;
use crate::keys;
use crate::kv::KeyValue;
use crate::mapping::Mapping;
use crate::{Error, Result};

/// A role of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages tokens and settings, uploads, views, signs off.
    Primary,
    /// Uploads and views.
    Upload,
    /// Views.
    View,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read records, XML, mapping, approvals.
    View,
    /// Post vehicles, batches, IVI files; preview a mapping.
    Upload,
    /// Change tokens, mapping, approvals; sign off held records.
    Manage,
}

impl Role {
    /// Whether this role may do `action`.
    pub fn allows(self, action: Action) -> bool {
        match self {
            Self::Primary => true,
            Self::Upload => matches!(action, Action::View | Action::Upload),
            Self::View => action == Action::View,
        }
    }

    /// `primary`, `upload` or `view`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Upload => "upload",
            Self::View => "view",
        }
    }
}

/// A tenant (a manufacturer, or a plant) and its settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Lower-case letters, digits and hyphens, 2-40 characters.
    pub id: String,
    /// Display name (used in digests).
    pub name: String,
    /// Validation profile: `eu` (official IVI 2.0 schema) or `uk` (GB `g11*` / NI `n11*` approvals).
    #[serde(default = "default_profile")]
    pub profile: String,
    /// `xmldsig` (EUCARIS) or `xades` (XAdES-B-B).
    #[serde(default = "default_signature_profile")]
    pub signature_profile: String,
    /// The ERP's write-back URL: each final status is POSTed there, signed (see [`crate::callback`]).
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Where the end-of-day digest goes.
    #[serde(default)]
    pub digest_to: Vec<String>,
    /// Ed25519 public key (32 bytes, base64) of the ERP: when set, every upload must be signed.
    #[serde(default)]
    pub webhook_public_key: Option<String>,
    /// How old (or how far in the future) a signed upload's timestamp may be, in seconds.
    #[serde(default = "default_replay_window")]
    pub webhook_replay_window_secs: u64,
    /// The delimiter of the tenant's CSV batches: `","`, `";"` or `"\t"` (also `"tab"`); absent or
    /// null: detected from each upload's header row (see [`crate::csv_batch`]).
    #[serde(default)]
    pub csv_delimiter: Option<Delimiter>,
    /// The tenant's own mapper component (see [`crate::mapper`]): uploads go through it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapper: Option<String>,
    /// Who signs for the tenant (see [`crate::identity`]); the deployment's shared signer when
    /// absent, if the deployment has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    /// The tenant's NAP accounts (see [`crate::identity`]); the deployment's shared account when
    /// empty, if the deployment has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<Destination>,
    /// The routing table (see [`crate::identity::targets`]): which destinations a file goes to.
    /// Empty: every file goes to the first destination, validated under `profile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

fn default_profile() -> String {
    "eu".into()
}

fn default_signature_profile() -> String {
    "xmldsig".into()
}

fn default_replay_window() -> u64 {
    300
}

/// The longest replay window a tenant may set (a day): a used signature's mark is pruned once its
/// timestamp is further in the past than this ([`prune_webhook_marks`]), when no window takes it.
pub const MAX_REPLAY_WINDOW_SECS: u64 = 86_400;

impl Tenant {
    /// A tenant with default settings.
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            profile: default_profile(),
            signature_profile: default_signature_profile(),
            callback_url: None,
            digest_to: Vec::new(),
            webhook_public_key: None,
            webhook_replay_window_secs: default_replay_window(),
            csv_delimiter: None,
            mapper: None,
            signer: None,
            destinations: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Checks the settings a user can change.
    pub fn check(&self) -> Result<()> {
        if !valid_tenant_id(&self.id) {
            return Err(Error::BadRequest(format!(
                "tenant id `{}` must be 2-40 characters of a-z, 0-9 and `-`",
                self.id
            )));
        }
        if !matches!(self.profile.as_str(), "eu" | "uk") {
            return Err(Error::BadRequest(format!(
                "profile `{}` must be eu or uk",
                self.profile
            )));
        }
        if !matches!(self.signature_profile.as_str(), "xmldsig" | "xades") {
            return Err(Error::BadRequest(format!(
                "signature_profile `{}` must be xmldsig or xades",
                self.signature_profile
            )));
        }
        if let Some(url) = &self.callback_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::BadRequest(format!(
                "callback_url `{url}` must be an http(s) URL"
            )));
        }
        if let Some(key) = &self.webhook_public_key {
            decode_public_key(key)?;
        }
        Ok(())
    }
}

/// The keys of a tenant's settings.
const TENANT_KEYS: [&str; 13] = [
    "id",
    "name",
    "profile",
    "signature_profile",
    "callback_url",
    "digest_to",
    "webhook_public_key",
    "webhook_replay_window_secs",
    "csv_delimiter",
    "mapper",
    "signer",
    "destinations",
    "routes",
];

/// Every mistake of tenant settings at `at` (`""`, or `/tenant` inside a [`NewTenant`]).
fn tenant_problems(p: &mut Problems, doc: &Value, at: &str) {
    let Some(t) = p.object(doc, at, "tenant settings") else {
        return;
    };
    p.keys(t, at, &TENANT_KEYS, &["id", "name"]);
    if let Some(id) = p.text(t, "id", at, false)
        && !valid_tenant_id(id)
    {
        p.push(
            &format!("{at}/id"),
            format!("tenant id `{id}` must be 2-40 characters of a-z, 0-9 and `-`"),
        );
    }
    p.text(t, "name", at, false);
    p.choice(t, "profile", at, &["eu", "uk"]);
    p.choice(t, "signature_profile", at, &["xmldsig", "xades"]);
    if let Some(url) = p.text(t, "callback_url", at, true)
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        p.push(
            &format!("{at}/callback_url"),
            format!("callback_url `{url}` must be an http(s) URL"),
        );
    }
    for (i, to) in p.texts(t, "digest_to", at, 0).into_iter().enumerate() {
        let parts: Vec<&str> = to.split('@').collect();
        if parts.len() != 2
            || parts
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            p.push(
                &format!("{at}/digest_to/{i}"),
                format!("`{to}` is not an email address"),
            );
        }
    }
    if let Some(key) = p.text(t, "webhook_public_key", at, true)
        && let Err(e) = decode_public_key(key)
    {
        p.push(&format!("{at}/webhook_public_key"), e.to_string());
    }
    if let Some(window) = t.get("webhook_replay_window_secs")
        && window.as_u64().is_none_or(|w| w > MAX_REPLAY_WINDOW_SECS)
    {
        p.push(
            &format!("{at}/webhook_replay_window_secs"),
            format!(
                "`webhook_replay_window_secs` must be a whole number of seconds, at most {MAX_REPLAY_WINDOW_SECS} (a day)"
            ),
        );
    }
    if let Some(id) = p.text(t, "mapper", at, true)
        && !crate::mapper::valid_id(id)
    {
        p.push(
            &format!("{at}/mapper"),
            format!("mapper `{id}` is not a component id (a-z, 0-9 and `-`, a letter first)"),
        );
    }
    for (at, message) in crate::identity::shape_problems(t, at) {
        p.push(&at, message);
    }
    match t.get("csv_delimiter") {
        None | Some(Value::Null) => {}
        Some(d) if serde_json::from_value::<Delimiter>(d.clone()).is_ok() => {}
        Some(other) => p.push(
            &format!("{at}/csv_delimiter"),
            format!("csv_delimiter {other} is not \",\", \";\", \"\\t\" or \"tab\""),
        ),
    }
}

impl Document for Tenant {
    fn problems(doc: &Value) -> Vec<FieldError> {
        let mut p = Problems::new("TENANT-INVALID");
        tenant_problems(&mut p, doc, "");
        p.list
    }
}

/// Whether `id` is a usable tenant id.
pub fn valid_tenant_id(id: &str) -> bool {
    (2..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What `token/{hash}` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRecord {
    /// The tenant.
    pub tenant: String,
    /// The token's name, unique within the tenant (shown in timelines as the actor).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When issued (RFC 3339).
    pub created_at: String,
}

/// One entry of `t/{tenant}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenEntry {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// When issued.
    pub created_at: String,
}

/// Who is calling: a tenant and a role, from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant.
    pub tenant: String,
    /// The token's role.
    pub role: Role,
    /// The token's name (the actor in timelines).
    pub name: String,
}

impl Principal {
    /// Refuses with 403 when the role does not allow `action`.
    pub fn require(&self, action: Action) -> Result<()> {
        if self.role.allows(action) {
            Ok(())
        } else {
            let what = match action {
                Action::View => "view records",
                Action::Upload => "upload vehicles",
                Action::Manage => "manage the tenant (tokens, mapping, approvals, sign-off)",
            };
            Err(Error::Forbidden(format!(
                "the role `{}` of token `{}` may not {what}",
                self.role.name(),
                self.name
            )))
        }
    }

    /// The actor string for timelines: `token:<name>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }
}

/// Reads a tenant.
pub fn load_tenant(kv: &impl KeyValue, id: &str) -> Result<Tenant> {
    kv.get_json(&keys::tenant(id))?
        .ok_or_else(|| Error::NotFound(format!("no tenant `{id}`")))
}

/// Writes a tenant's settings (after [`Tenant::check`]).
pub fn save_tenant(kv: &impl KeyValue, tenant: &Tenant) -> Result<()> {
    tenant.check()?;
    kv.set_json(&keys::tenant(&tenant.id), tenant)
}

/// The tenant's ERP mapping; 409 when a primary user has not set one yet.
pub fn load_mapping(kv: &impl KeyValue, tenant: &str) -> Result<Mapping> {
    stored_mapping(kv, tenant)?.ok_or_else(|| {
        Error::Conflict(
            "the tenant has no mapping yet: a primary user sets it with PUT /v1/tenant/mapping"
                .into(),
        )
    })
}

/// The tenant's ERP mapping, `None` when not set (a tenant whose mapper writes whole documents).
pub fn stored_mapping(kv: &impl KeyValue, tenant: &str) -> Result<Option<Mapping>> {
    let Some(bytes) = kv.get(&keys::mapping(tenant))? else {
        return Ok(None);
    };
    Mapping::from_stored(&bytes).map(Some).map_err(|e| {
        Error::Internal(format!(
            "the stored mapping cannot be read: {} error(s)",
            e.len()
        ))
    })
}

/// Checks and stores a mapping (JSON as the primary user wrote it; every error is listed).
pub fn save_mapping(kv: &impl KeyValue, tenant: &str, json: &[u8]) -> Result<Mapping> {
    let mapping = Mapping::from_json(json).map_err(Error::Fields)?;
    kv.set(&keys::mapping(tenant), json)?;
    Ok(mapping)
}

/// The tenant's type-approval records (none yet: empty, and `validate` says so).
pub fn load_approvals(kv: &impl KeyValue, tenant: &str) -> Result<Approvals> {
    Ok(kv.get_json(&keys::approvals(tenant))?.unwrap_or_default())
}

/// Checks and stores type-approval records; returns how many there are.
pub fn save_approvals(kv: &impl KeyValue, tenant: &str, json: &[u8]) -> Result<usize> {
    let approvals = Approvals::from_json(json)?;
    kv.set_json(&keys::approvals(tenant), &approvals)?;
    Ok(approvals.approvals.len())
}

/// A setting document as stored (`mapping` or `approvals`), for `GET`; 404 when not set yet.
pub fn setting_json(kv: &impl KeyValue, tenant: &str, what: Setting) -> Result<serde_json::Value> {
    let key = match what {
        Setting::Mapping => keys::mapping(tenant),
        Setting::Approvals => keys::approvals(tenant),
    };
    kv.get_json(&key)?
        .ok_or_else(|| Error::NotFound(format!("the tenant has no {} yet", what.as_str())))
}

/// A tenant's setting document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The ERP mapping.
    Mapping,
    /// The type-approval records.
    Approvals,
}

impl Setting {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapping => "mapping",
            Self::Approvals => "approvals",
        }
    }
}

/// Creates a tenant with its first primary token, which is returned (shown once; `token` sets its
/// value, e.g. a development token kept in a file). Refuses an existing id.
pub fn create_tenant(
    kv: &impl KeyValue,
    tenant: &Tenant,
    token_name: &str,
    token: Option<&str>,
) -> Result<String> {
    tenant.check()?;
    if kv.get(&keys::tenant(&tenant.id))?.is_some() {
        return Err(Error::Conflict(format!("tenant `{}` exists", tenant.id)));
    }
    save_tenant(kv, tenant)?;
    issue_token(kv, &tenant.id, token_name, Role::Primary, token)
}

/// Issues a token for `tenant`; with `token` given (e.g. a configured demo token) that value is used.
pub fn issue_token(
    kv: &impl KeyValue,
    tenant: &str,
    name: &str,
    role: Role,
    token: Option<&str>,
) -> Result<String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::BadRequest(format!(
            "token name `{name}` must be 1-64 characters of letters, digits, `-`, `_`, `.`"
        )));
    }
    let mut list: Vec<TokenEntry> = kv.get_json(&keys::tokens(tenant))?.unwrap_or_default();
    if list.iter().any(|t| t.name == name) {
        return Err(Error::Conflict(format!(
            "tenant `{tenant}` already has a token named `{name}`"
        )));
    }
    let token = match token {
        Some(t) if t.len() >= 20 => t.to_owned(),
        Some(_) => {
            return Err(Error::BadRequest(
                "a given token must have at least 20 characters".into(),
            ));
        }
        None => ids::new_token()?,
    };
    let hash = ids::sha256_hex(token.as_bytes());
    let created_at = clock::rfc3339(clock::now_secs());
    kv.set_json(
        &keys::token(&hash),
        &TokenRecord {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            role,
            created_at: created_at.clone(),
        },
    )?;
    list.push(TokenEntry {
        name: name.to_owned(),
        role,
        hash,
        created_at,
    });
    kv.set_json(&keys::tokens(tenant), &list)?;
    Ok(token)
}

/// `POST /v1/tenant/tokens`: a token to issue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Its name (letters, digits, `-`, `_`, `.`; at most 64).
    #[serde(default)]
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A token just issued: shown once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuedToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The token itself.
    pub token: String,
}

/// Issues the token asked for (see [`issue_token`]).
pub fn issue_named_token(kv: &impl KeyValue, tenant: &str, asked: NewToken) -> Result<IssuedToken> {
    let token = issue_token(kv, tenant, &asked.name, asked.role, None)?;
    Ok(IssuedToken {
        name: asked.name,
        role: asked.role,
        token,
    })
}

/// `PUT /v1/tenant`: replaces the settings of `tenant`; they must name that tenant.
pub fn update_tenant(kv: &impl KeyValue, tenant: &str, settings: &Tenant) -> Result<Tenant> {
    if settings.id != tenant {
        return Err(Error::BadRequest(format!(
            "the settings name tenant `{}`, but the token belongs to `{tenant}`",
            settings.id
        )));
    }
    save_tenant(kv, settings)?;
    Ok(settings.clone())
}

/// `POST /v1/admin/tenants`: a new tenant and the name (and, for development, the value) of its
/// first primary token.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Its settings.
    pub tenant: Tenant,
    /// The first token's name (`primary` when absent).
    #[serde(default = "primary_name")]
    pub token_name: String,
    /// The first token's value (a development token kept in a file); generated when absent.
    #[serde(default)]
    pub token: Option<String>,
}

impl Document for NewTenant {
    fn problems(doc: &Value) -> Vec<FieldError> {
        let mut p = Problems::new("TENANT-INVALID");
        let Some(top) = p.object(doc, "", "a new tenant") else {
            return p.list;
        };
        p.keys(top, "", &["tenant", "token_name", "token"], &["tenant"]);
        if let Some(tenant) = top.get("tenant") {
            tenant_problems(&mut p, tenant, "/tenant");
        }
        p.text(top, "token_name", "", false);
        p.text(top, "token", "", true);
        p.list
    }
}

fn primary_name() -> String {
    "primary".into()
}

/// A tenant just created, with its first primary token (shown once).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CreatedTenant {
    /// Its settings.
    pub tenant: Tenant,
    /// The first token's name.
    pub token_name: String,
    /// The first token.
    pub token: String,
}

/// Creates the tenant asked for (see [`create_tenant`]).
pub fn create_named_tenant(kv: &impl KeyValue, asked: NewTenant) -> Result<CreatedTenant> {
    let token = create_tenant(kv, &asked.tenant, &asked.token_name, asked.token.as_deref())?;
    Ok(CreatedTenant {
        tenant: asked.tenant,
        token_name: asked.token_name,
        token,
    })
}

/// The tenant's tokens (names, roles, dates; hashes are left out).
pub fn list_tokens(kv: &impl KeyValue, tenant: &str) -> Result<Vec<serde_json::Value>> {
    let list: Vec<TokenEntry> = kv.get_json(&keys::tokens(tenant))?.unwrap_or_default();
    Ok(list
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "role": t.role, "created_at": t.created_at}))
        .collect())
}

/// Revokes a token by name; the last primary token cannot go.
pub fn revoke_token(kv: &impl KeyValue, tenant: &str, name: &str) -> Result<()> {
    let mut list: Vec<TokenEntry> = kv.get_json(&keys::tokens(tenant))?.unwrap_or_default();
    let Some(pos) = list.iter().position(|t| t.name == name) else {
        return Err(Error::NotFound(format!("no token named `{name}`")));
    };
    let primaries = list.iter().filter(|t| t.role == Role::Primary).count();
    if list[pos].role == Role::Primary && primaries == 1 {
        return Err(Error::Conflict(format!(
            "`{name}` is the tenant's last primary token: issue another primary first"
        )));
    }
    let entry = list.remove(pos);
    kv.delete(&keys::token(&entry.hash))?;
    kv.set_json(&keys::tokens(tenant), &list)
}

/// Finds who holds `authorization` (`Bearer <token>`).
pub fn authenticate(kv: &impl KeyValue, authorization: Option<&str>) -> Result<Principal> {
    let Some(header) = authorization else {
        return Err(Error::Unauthorized(
            "missing Authorization header: send `Authorization: Bearer <token>`".into(),
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    let record: TokenRecord = kv
        .get_json(&keys::token(&ids::sha256_hex(token.as_bytes())))?
        .ok_or_else(|| Error::Unauthorized("unknown or revoked token".into()))?;
    Ok(Principal {
        tenant: record.tenant,
        role: record.role,
        name: record.name,
    })
}

fn decode_public_key(text: &str) -> Result<ed25519_dalek::VerifyingKey> {
    ed25519_public_key(text, "webhook_public_key")
}

/// An Ed25519 public key from its base64; errors name it `what`.
pub(crate) fn ed25519_public_key(text: &str, what: &str) -> Result<ed25519_dalek::VerifyingKey> {
    let bytes = base64ct::Base64::decode_vec(text.trim())
        .map_err(|_| Error::BadRequest(format!("{what} is not base64")))?;
    let array: [u8; 32] = bytes.try_into().map_err(|_| {
        Error::BadRequest(format!("{what} must be 32 bytes (an Ed25519 public key)"))
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&array)
        .map_err(|_| Error::BadRequest(format!("{what} is not an Ed25519 point")))
}

/// Header carrying the upload's Unix time (seconds).
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "ecoc-timestamp";
/// Header carrying base64 Ed25519 over `"{timestamp}.{body}"`.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "ecoc-signature";

/// Checks a signed upload when the tenant asks for signatures: a timestamp within the replay window,
/// a valid Ed25519 signature over `"{timestamp}.{body}"`, and a signature not seen before (a replay is
/// refused). Returns the key that marks the signature as used (in store `seen`): the caller writes
/// it with [`mark_webhook_used`] once the upload is accepted, so a refused upload changes nothing.
/// `None` for tenants without a key.
pub fn check_webhook(
    seen: &impl KeyValue,
    tenant: &Tenant,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<Option<String>> {
    let Some(key) = &tenant.webhook_public_key else {
        return Ok(None);
    };
    let key = decode_public_key(key).map_err(|_| {
        Error::Config(format!(
            "tenant `{}` has an unusable webhook key",
            tenant.id
        ))
    })?;
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Error::Unauthorized(format!(
            "this tenant requires signed uploads: send {WEBHOOK_TIMESTAMP_HEADER} and {WEBHOOK_SIGNATURE_HEADER}"
        )));
    };
    let ts_value: u64 = ts.trim().parse().map_err(|_| {
        Error::Unauthorized(format!("{WEBHOOK_TIMESTAMP_HEADER} must be Unix seconds"))
    })?;
    let window = tenant
        .webhook_replay_window_secs
        .min(MAX_REPLAY_WINDOW_SECS);
    if ts_value.abs_diff(now) > window {
        return Err(Error::Unauthorized(format!(
            "{WEBHOOK_TIMESTAMP_HEADER} {ts_value} is outside the {window} s window around now ({now})"
        )));
    }
    let sig_bytes = base64ct::Base64::decode_vec(sig.trim())
        .map_err(|_| Error::Unauthorized(format!("{WEBHOOK_SIGNATURE_HEADER} is not base64")))?;
    let signature = ed25519_dalek::Signature::from_slice(&sig_bytes)
        .map_err(|_| Error::Unauthorized(format!("{WEBHOOK_SIGNATURE_HEADER} is not 64 bytes")))?;
    let mut message = Vec::with_capacity(ts.len() + 1 + body.len());
    message.extend_from_slice(ts.trim().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    key.verify_strict(&message, &signature).map_err(|_| {
        Error::Unauthorized(
            "webhook signature does not verify over `{timestamp}.{body}` with the tenant's key"
                .into(),
        )
    })?;
    let mark = keys::webhook_seen(&tenant.id, ts_value, &ids::sha256_hex(&sig_bytes));
    if seen.get(&mark)?.is_some() {
        return Err(Error::Unauthorized(
            "replayed webhook: this signature was already used".into(),
        ));
    }
    Ok(Some(mark))
}

/// Marks a webhook signature as used (see [`check_webhook`]) in store `seen`.
pub fn mark_webhook_used(seen: &impl KeyValue, marker: Option<&str>, now: u64) -> Result<()> {
    match marker {
        Some(key) => seen.set(key, now.to_string().as_bytes()),
        None => Ok(()),
    }
}

/// Deletes the marks of used webhook signatures whose timestamp is more than
/// [`MAX_REPLAY_WINDOW_SECS`] before `now`: no tenant's window lets such a signature in again, so
/// the timestamp check alone refuses its replay. Returns how many went.
pub fn prune_webhook_marks(seen: &impl KeyValue, now: u64) -> Result<usize> {
    let oldest_kept = now.saturating_sub(MAX_REPLAY_WINDOW_SECS);
    let mut pruned = 0;
    for key in seen.get_keys()? {
        if keys::webhook_seen_timestamp(&key).is_some_and(|ts| ts < oldest_kept) {
            seen.delete(&key)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::kv::MemoryKv;

    #[test]
    fn tokens_roles_and_last_primary() {
        let kv = MemoryKv::default();
        let t = create_tenant(&kv, &Tenant::new("acme", "Acme"), "owner", None).unwrap();
        let p = authenticate(&kv, Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!((p.tenant.as_str(), p.role), ("acme", Role::Primary));
        assert!(matches!(
            authenticate(&kv, Some("Bearer nope")),
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            authenticate(&kv, None),
            Err(Error::Unauthorized(_))
        ));
        let v = issue_token(&kv, "acme", "reader", Role::View, None).unwrap();
        let reader = authenticate(&kv, Some(&format!("Bearer {v}"))).unwrap();
        assert!(reader.require(Action::View).is_ok());
        assert!(matches!(
            reader.require(Action::Upload),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            revoke_token(&kv, "acme", "owner"),
            Err(Error::Conflict(_))
        ));
        issue_token(&kv, "acme", "owner2", Role::Primary, None).unwrap();
        revoke_token(&kv, "acme", "owner").unwrap();
        assert!(authenticate(&kv, Some(&format!("Bearer {t}"))).is_err());
        // Nothing stores the token itself.
        for k in kv.get_keys().unwrap() {
            let v = kv.get(&k).unwrap().unwrap();
            assert!(!String::from_utf8_lossy(&v).contains(&t) && !k.contains(&t));
        }
    }

    #[test]
    fn webhook_signatures_and_replays() {
        use ed25519_dalek::Signer;
        let kv = MemoryKv::default();
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let mut tenant = Tenant::new("acme", "Acme");
        tenant.webhook_public_key = Some(base64ct::Base64::encode_string(
            signing.verifying_key().as_bytes(),
        ));
        tenant.check().unwrap();
        let body = br#"{"vin":"X"}"#;
        let sign = |ts: &str, body: &[u8]| {
            let mut m = ts.as_bytes().to_vec();
            m.push(b'.');
            m.extend_from_slice(body);
            base64ct::Base64::encode_string(&signing.sign(&m).to_bytes())
        };
        let now = 1_795_275_797;
        let good = sign("1795275790", body);
        let marker =
            check_webhook(&kv, &tenant, Some("1795275790"), Some(&good), body, now).unwrap();
        assert!(kv.is_empty(), "checking writes nothing");
        mark_webhook_used(&kv, marker.as_deref(), now).unwrap();
        let replay = check_webhook(&kv, &tenant, Some("1795275790"), Some(&good), body, now);
        assert!(replay.unwrap_err().to_string().contains("replayed"));
        let old = sign("1795270000", body);
        let stale = check_webhook(&kv, &tenant, Some("1795270000"), Some(&old), body, now);
        assert!(stale.unwrap_err().to_string().contains("window"));
        let other = sign("1795275791", b"{}");
        let forged = check_webhook(&kv, &tenant, Some("1795275791"), Some(&other), body, now);
        assert!(forged.unwrap_err().to_string().contains("does not verify"));
        assert!(check_webhook(&kv, &tenant, None, None, body, now).is_err());
    }

    #[test]
    fn webhook_marks_go_once_no_window_takes_their_signature() {
        let kv = MemoryKv::default();
        let now = 1_795_275_797;
        let day = MAX_REPLAY_WINDOW_SECS;
        for (ts, hash) in [
            (now - day - 1, "old"),
            (now - day, "edge"),
            (now - 5, "new"),
        ] {
            mark_webhook_used(&kv, Some(&keys::webhook_seen("acme", ts, hash)), ts).unwrap();
        }
        assert_eq!(prune_webhook_marks(&kv, now).unwrap(), 1);
        let mut left = kv.get_keys().unwrap();
        left.sort();
        assert_eq!(
            left,
            [
                keys::webhook_seen("acme", now - day, "edge"),
                keys::webhook_seen("acme", now - 5, "new"),
            ]
        );
        // A pruned signature's replay is refused by its timestamp, whatever the tenant's window.
        let mut tenant = Tenant::new("acme", "Acme");
        tenant.webhook_replay_window_secs = u64::MAX;
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        tenant.webhook_public_key = Some(base64ct::Base64::encode_string(
            signing.verifying_key().as_bytes(),
        ));
        let old = (now - day - 1).to_string();
        let refused = check_webhook(&kv, &tenant, Some(&old), Some("AAAA"), b"{}", now);
        assert!(refused.unwrap_err().to_string().contains("86400 s window"));
    }

    #[test]
    fn a_replay_window_over_a_day_is_refused() {
        let mut settings = serde_json::to_value(Tenant::new("acme", "Acme")).unwrap();
        settings["webhook_replay_window_secs"] = serde_json::json!(MAX_REPLAY_WINDOW_SECS + 1);
        let problems = <Tenant as Document>::problems(&settings);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "/webhook_replay_window_secs");
        assert!(
            problems[0].message.contains("at most 86400"),
            "{problems:?}"
        );
    }
}
