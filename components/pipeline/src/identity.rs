//! A tenant's identity at the remote services: who signs for it (its [`Signer`]: a credential at a
//! QTSP the deployment declares) and the accounts it delivers under (its [`Destination`]s: an
//! account at a NAP the deployment declares), with the secrets both need.
//!
//! A secret is named, never given, in the settings ([`SecretRef`]): either one the tenant's primary
//! user stored through the API (`PUT /v1/tenant/secrets/{name}`), kept sealed under the
//! deployment's key ring ([`crate::sealing`]) and never returned, or a Spin variable the deployment
//! set for it. Which QTSPs and NAPs exist is the deployment's choice ([`Declared`]: `id=url` lists in
//! the `qtsps` and `naps` variables), and their hosts stay declared in `spin.toml`: a tenant picks
//! among them and cannot send its signing requests anywhere else.
//!
//! Keys (store `default`): `t/{id}/secrets` the tenant's [`StoredSecret`]s by name (one key: the
//! list is read without scanning the store).

use crate::clock;
use crate::keys;
use crate::kv::KeyValue;
use crate::sealing::KeyRing;
use crate::tenant::Tenant;
use crate::{Error, Result};

/// Where a secret's value comes from: `{"secret": "name"}` (stored sealed through the API) or
/// `{"variable": "name"}` (a Spin variable of the deployment's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretRef {
    /// A secret the tenant stored, by name.
    Secret(String),
    /// A Spin variable, by name.
    Variable(String),
}

impl SecretRef {
    /// The name, checked: a stored secret's name or a Spin variable's name.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Secret(name) if !valid_secret_name(name) => Some(format!(
                "secret name `{name}` must be 1-64 characters of a-z, 0-9, `_` and `-`"
            )),
            Self::Variable(name) if !valid_variable_name(name) => Some(format!(
                "variable `{name}` is not a Spin variable name (a-z, 0-9 and `_`, a letter first)"
            )),
            _ => None,
        }
    }
}

/// Whether `name` may name a stored secret.
pub fn valid_secret_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn valid_variable_name(name: &str) -> bool {
    name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Who signs for a tenant: its OAuth2 client and credential at one of the declared QTSPs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signer {
    /// Which declared QTSP (an id of the `qtsps` variable).
    pub qtsp: String,
    /// The tenant's OAuth2 client at that QTSP.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretRef,
    /// The CSC `credentialID` of the manufacturer's signing key.
    pub credential: String,
    /// The PIN `credentials/authorize` asks for.
    pub pin: SecretRef,
    /// PEM certificates the signatures must chain to; the deployment's `trust_anchors` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors: Option<String>,
}

/// How ecoc talks to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adapter {
    /// The UK VCA eCoC API: OAuth2 client credentials.
    Vca,
    /// An EU member state's NAP: mutual TLS with the client certificate the NAP issued (the
    /// deployment's `[[client_tls]]`), EUCARIS-style answers.
    Eu,
}

/// A NAP account of the tenant's: where its files go, and as whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The tenant's name for it (`vca`, `rdw`): records and receipts name it.
    pub id: String,
    /// How to talk to it.
    pub adapter: Adapter,
    /// Which declared NAP (an id of the `naps` variable).
    pub nap: String,
    /// The account: the OAuth2 client id (VCA), or the certificate's name (EU, shown only).
    pub client_id: String,
    /// The OAuth2 client secret (VCA only: an EU NAP knows the account by its certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRef>,
}

impl Adapter {
    /// The validation profile of the files a destination of this kind takes: the VCA's is `uk`
    /// (GB `g11*` and UK(NI) `n11*` approvals beside EU ones), an EU NAP's the official `eu`.
    pub fn profile(self) -> ivi::Profile {
        match self {
            Self::Vca => ivi::Profile::Uk,
            Self::Eu => ivi::Profile::Eu,
        }
    }
}

/// One line of a tenant's routing table: files whose `IntendedCountryRegistration` is one of
/// `countries` (any when empty) and whose `VehicleCategory` is one of `categories` (any when empty)
/// go to destination `to`. Every matching line adds its destination: a vehicle may go to two.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A destination id of the tenant's.
    pub to: String,
    /// Vienna country codes of `Header/IntendedCountryRegistration` (`UK`, `NL`, `D`); a file
    /// without one matches only a line without countries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// `VehicleCategory` codes (`M1`, `N2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// Where one file goes: a destination of the tenant's (none: the tenant has no routing table, the
/// file goes to its first destination or the deployment's shared account) and the profile it is
/// validated under there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The destination id, when the tenant routes.
    pub destination: Option<String>,
    /// The validation profile there.
    pub profile: ivi::Profile,
}

/// The targets of a file of `tenant`: one per distinct destination its routing table picks for
/// the file's country of registration and category, in table order; without a table, the one
/// target of the tenant's profile. A file no line takes is refused (`ROUTE-NONE`, 422).
pub fn targets(tenant: &Tenant, ivi: &ivi::Ivi) -> Result<Vec<Target>> {
    let Ok(profile) = tenant.profile.parse::<ivi::Profile>() else {
        return Err(Error::Config(format!(
            "tenant {}: profile `{}`",
            tenant.id, tenant.profile
        )));
    };
    if tenant.routes.is_empty() {
        return Ok(vec![Target {
            destination: None,
            profile,
        }]);
    }
    let country = ivi.header.intended_country_registration.map(|c| c.as_str());
    let category = ivi.coc.vehicle_category.as_str();
    let mut out: Vec<Target> = Vec::new();
    for route in &tenant.routes {
        let country_matches = route.countries.is_empty()
            || country.is_some_and(|c| route.countries.iter().any(|r| r == c));
        let category_matches =
            route.categories.is_empty() || route.categories.iter().any(|r| r == category);
        if !(country_matches && category_matches)
            || out
                .iter()
                .any(|t| t.destination.as_deref() == Some(&route.to))
        {
            continue;
        }
        let destination = tenant
            .destinations
            .iter()
            .find(|d| d.id == route.to)
            .ok_or_else(|| {
                Error::Config(format!(
                    "tenant {}: route to unknown destination `{}`",
                    tenant.id, route.to
                ))
            })?;
        out.push(Target {
            destination: Some(destination.id.clone()),
            profile: destination.adapter.profile(),
        });
    }
    if out.is_empty() {
        return Err(Error::Fields(vec![crate::FieldError::new(
            "Header/IntendedCountryRegistration",
            "ROUTE-NONE",
            format!(
                "no line of the tenant's routing table takes a {category} registered in {}: add a route (PUT /v1/tenant, `routes`)",
                country.unwrap_or("(no IntendedCountryRegistration)")
            ),
        )]));
    }
    Ok(out)
}

/// The deployment's QTSPs or NAPs: `id=url[,id=url...]` (Spin variables `qtsps`, `naps`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    entries: Vec<(String, String)>,
}

impl Declared {
    /// Reads `id=url,...`; `what` (`qtsps`) names the variable in errors.
    pub fn parse(what: &str, text: &str) -> Result<Self> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, url) = entry
                .split_once('=')
                .map(|(i, u)| (i.trim(), u.trim()))
                .ok_or_else(|| {
                    Error::Config(format!("variable `{what}`: `{entry}` is not id=url"))
                })?;
            if !crate::mapper::valid_id(id) {
                return Err(Error::Config(format!(
                    "variable `{what}`: `{id}` is not an id (a-z, 0-9 and `-`, a letter first)"
                )));
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "variable `{what}`: the URL of `{id}` must be http(s)"
                )));
            }
            if entries.iter().any(|(known, _)| known == id) {
                return Err(Error::Config(format!("variable `{what}`: `{id}` twice")));
            }
            entries.push((id.to_owned(), url.trim_end_matches('/').to_owned()));
        }
        Ok(Self { entries })
    }

    /// The URL of `id`.
    pub fn url(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, url)| url.as_str())
    }

    /// The ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }

    fn require(&self, what: &str, id: &str) -> Result<&str> {
        self.url(id).ok_or_else(|| {
            let known: Vec<&str> = self.ids().collect();
            Error::Config(format!(
                "{what} `{id}` is not one this deployment declares ({})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }
}

/// Every mistake in the shape of a tenant's `signer` and `destinations` (`doc` is the settings
/// object), as (JSON pointer, message).
pub fn shape_problems(
    doc: &serde_json::Map<String, serde_json::Value>,
    at: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match doc.get("signer") {
        None | Some(serde_json::Value::Null) => {}
        Some(v) => match serde_json::from_value::<Signer>(v.clone()) {
            Ok(s) => {
                for (slot, r) in [("client_secret", &s.client_secret), ("pin", &s.pin)] {
                    if let Some(p) = r.problem() {
                        out.push((format!("{at}/signer/{slot}"), p));
                    }
                }
                if let Some(pem) = &s.trust_anchors
                    && dsig::parse_pem_certificates(pem).is_err()
                {
                    out.push((
                        format!("{at}/signer/trust_anchors"),
                        "trust_anchors must be PEM certificates".to_owned(),
                    ));
                }
            }
            Err(e) => out.push((format!("{at}/signer"), format!("signer: {e}"))),
        },
    }
    let mut seen: Vec<String> = Vec::new();
    destination_problems(doc, at, &mut seen, &mut out);
    match doc.get("routes") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(routes)) => {
            for (i, v) in routes.iter().enumerate() {
                match serde_json::from_value::<Route>(v.clone()) {
                    Ok(r) if !seen.contains(&r.to) => out.push((
                        format!("{at}/routes/{i}/to"),
                        format!("`{}` is not one of the tenant's destinations", r.to),
                    )),
                    Ok(_) => {}
                    Err(e) => out.push((format!("{at}/routes/{i}"), format!("route: {e}"))),
                }
            }
        }
        Some(_) => out.push((format!("{at}/routes"), "routes must be a list".to_owned())),
    }
    out
}

fn destination_problems(
    doc: &serde_json::Map<String, serde_json::Value>,
    at: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) {
    let Some(list) = doc.get("destinations") else {
        return;
    };
    let Some(list) = list.as_array() else {
        out.push((
            format!("{at}/destinations"),
            "destinations must be a list".to_owned(),
        ));
        return;
    };
    for (i, v) in list.iter().enumerate() {
        let here = format!("{at}/destinations/{i}");
        match serde_json::from_value::<Destination>(v.clone()) {
            Ok(d) => {
                if !crate::mapper::valid_id(&d.id) {
                    out.push((
                        format!("{here}/id"),
                        format!(
                            "destination id `{}` must be a-z, 0-9 and `-`, a letter first",
                            d.id
                        ),
                    ));
                }
                if seen.contains(&d.id) {
                    out.push((
                        format!("{here}/id"),
                        format!("destination `{}` twice", d.id),
                    ));
                }
                seen.push(d.id.clone());
                match (&d.client_secret, d.adapter) {
                    (None, Adapter::Vca) => out.push((
                        format!("{here}/client_secret"),
                        "a vca destination needs its OAuth2 client_secret".to_owned(),
                    )),
                    (Some(r), _) => {
                        if let Some(p) = r.problem() {
                            out.push((format!("{here}/client_secret"), p));
                        }
                    }
                    (None, Adapter::Eu) => {}
                }
            }
            Err(e) => out.push((here, format!("destination: {e}"))),
        }
    }
}

/// Every mistake in a tenant's `signer` and `destinations` against what the deployment declares,
/// as (JSON pointer, message).
pub fn declared_problems(
    signer: Option<&Signer>,
    destinations: &[Destination],
    qtsps: &Declared,
    naps: &Declared,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(s) = signer
        && let Err(e) = qtsps.require("QTSP", &s.qtsp)
    {
        out.push(("/signer/qtsp".to_owned(), e.to_string()));
    }
    for (i, d) in destinations.iter().enumerate() {
        if let Err(e) = naps.require("NAP", &d.nap) {
            out.push((format!("/destinations/{i}/nap"), e.to_string()));
        }
    }
    out
}

/// A secret as stored: sealed, with when it was set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSecret {
    /// `ecoc-sealed:v1:<kid>:...` ([`KeyRing::seal`]).
    pub sealed: String,
    /// When it was set (RFC 3339).
    pub updated_at: String,
}

/// What `GET /v1/tenant/secrets` shows of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// The id of the key it is sealed under.
    pub key_id: String,
    /// When it was set.
    pub updated_at: String,
}

/// The body of `PUT /v1/tenant/secrets/{name}`: `{"value": "..."}`. `Debug` shows no value.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    /// The secret.
    pub value: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(<redacted>)")
    }
}

type SecretMap = std::collections::BTreeMap<String, StoredSecret>;

fn stored(kv: &impl KeyValue, tenant: &str) -> Result<SecretMap> {
    Ok(kv.get_json(&keys::secrets(tenant))?.unwrap_or_default())
}

/// `PUT /v1/tenant/secrets/{name}`: seals `value` under the ring's current key and stores it.
pub fn put_secret(
    kv: &impl KeyValue,
    ring: &KeyRing,
    tenant: &str,
    name: &str,
    value: &str,
) -> Result<SecretInfo> {
    if !valid_secret_name(name) {
        return Err(Error::BadRequest(format!(
            "secret name `{name}` must be 1-64 characters of a-z, 0-9, `_` and `-`"
        )));
    }
    if value.is_empty() || value.len() > 4096 {
        return Err(Error::BadRequest(format!(
            "secret `{name}`: the value must be 1-4096 bytes"
        )));
    }
    let secret = StoredSecret {
        sealed: ring.seal(tenant, name, value)?,
        updated_at: clock::rfc3339(clock::now_secs()),
    };
    let mut all = stored(kv, tenant)?;
    all.insert(name.to_owned(), secret.clone());
    kv.set_json(&keys::secrets(tenant), &all)?;
    Ok(info(name, &secret))
}

fn info(name: &str, stored: &StoredSecret) -> SecretInfo {
    SecretInfo {
        name: name.to_owned(),
        key_id: KeyRing::key_id(&stored.sealed).unwrap_or("?").to_owned(),
        updated_at: stored.updated_at.clone(),
    }
}

/// `GET /v1/tenant/secrets`: names, key ids and times, never values.
pub fn list_secrets(kv: &impl KeyValue, tenant: &str) -> Result<Vec<SecretInfo>> {
    Ok(stored(kv, tenant)?
        .iter()
        .map(|(name, s)| info(name, s))
        .collect())
}

/// `DELETE /v1/tenant/secrets/{name}`.
pub fn delete_secret(kv: &impl KeyValue, tenant: &str, name: &str) -> Result<()> {
    let mut all = stored(kv, tenant)?;
    if all.remove(name).is_none() {
        return Err(Error::NotFound(format!(
            "tenant `{tenant}` has no secret `{name}`"
        )));
    }
    kv.set_json(&keys::secrets(tenant), &all)
}

/// Seals again, under the ring's current key, every stored secret of every tenant sealed under an
/// older one (a key rotation: put the new key first, run this, then drop the old key). Returns
/// how many were sealed again.
pub fn reseal_all(kv: &impl KeyValue, ring: &KeyRing) -> Result<usize> {
    let mut count = 0;
    for key in kv.get_keys()? {
        let Some(tenant) = keys::split_secrets(&key) else {
            continue;
        };
        let mut all = stored(kv, tenant)?;
        let mut changed = false;
        for (name, secret) in &mut all {
            if ring.needs_reseal(&secret.sealed) {
                let value = ring.open(tenant, name, &secret.sealed)?;
                secret.sealed = ring.seal(tenant, name, &value)?;
                changed = true;
                count += 1;
            }
        }
        if changed {
            kv.set_json(&key, &all)?;
        }
    }
    Ok(count)
}

/// Opens a tenant's secrets for one step: stored ones with the deployment's key ring, variables
/// through `variable` (the Spin variable lookup).
pub struct Secrets<'a, K> {
    kv: &'a K,
    tenant: &'a str,
    ring: Option<&'a KeyRing>,
    variable: &'a dyn Fn(&str) -> Option<String>,
}

impl<K> std::fmt::Debug for Secrets<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("tenant", &self.tenant)
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

impl<'a, K: KeyValue> Secrets<'a, K> {
    /// The secrets of `tenant`.
    pub fn new(
        kv: &'a K,
        tenant: &'a str,
        ring: Option<&'a KeyRing>,
        variable: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Self {
            kv,
            tenant,
            ring,
            variable,
        }
    }

    /// The value of `secret`, for the setting `slot` (named in errors, never the value). A stored
    /// secret sealed under an older key is sealed again under the current one.
    pub fn open(&self, secret: &SecretRef, slot: &str) -> Result<String> {
        match secret {
            SecretRef::Variable(name) => (self.variable)(name).ok_or_else(|| {
                Error::Config(format!(
                    "{slot} of tenant `{}` names the variable `{name}`, which the deployment does not set for this component",
                    self.tenant
                ))
            }),
            SecretRef::Secret(name) => {
                let mut all = stored(self.kv, self.tenant)?;
                let secret = all.get(name).ok_or_else(|| {
                    Error::Config(format!(
                        "{slot} of tenant `{}` names the secret `{name}`, which is not set: a primary user sets it with PUT /v1/tenant/secrets/{name}",
                        self.tenant
                    ))
                })?;
                let ring = self.ring.ok_or_else(|| {
                    Error::Config(
                        "the deployment has no sealing keys (variable `sealing_keys`): stored secrets cannot be opened"
                            .into(),
                    )
                })?;
                let value = ring.open(self.tenant, name, &secret.sealed)?;
                if ring.needs_reseal(&secret.sealed) {
                    let again = StoredSecret {
                        sealed: ring.seal(self.tenant, name, &value)?,
                        updated_at: secret.updated_at.clone(),
                    };
                    all.insert(name.clone(), again);
                    self.kv.set_json(&keys::secrets(self.tenant), &all)?;
                }
                Ok(value)
            }
        }
    }
}

/// A signer with its secrets opened, ready for the CSC client. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// Who this is, for records: `<qtsp>/<credential>`.
    pub label: String,
    /// The QTSP's CSC base URL (`.../csc/v2`).
    pub url: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: String,
    /// `credentialID`.
    pub credential: String,
    /// PIN.
    pub pin: String,
    /// Trust anchors (PEM), when the tenant gives its own.
    pub trust_anchors: Option<String>,
}

impl std::fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerConfig")
            .field("label", &self.label)
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// This signer at its declared QTSP, with its secrets opened.
    pub fn resolve<K: KeyValue>(
        &self,
        qtsps: &Declared,
        secrets: &Secrets<'_, K>,
    ) -> Result<SignerConfig> {
        let url = qtsps.require("QTSP", &self.qtsp)?;
        Ok(SignerConfig {
            label: format!("{}/{}", self.qtsp, self.credential),
            url: url.to_owned(),
            client_id: self.client_id.clone(),
            client_secret: secrets.open(&self.client_secret, "signer.client_secret")?,
            credential: self.credential.clone(),
            pin: secrets.open(&self.pin, "signer.pin")?,
            trust_anchors: self.trust_anchors.clone(),
        })
    }
}

/// A destination at its declared NAP, with its secret opened. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The tenant's destination id.
    pub destination: String,
    /// How to talk to it.
    pub adapter: Adapter,
    /// The NAP's base URL.
    pub url: String,
    /// The account's client id.
    pub client_id: String,
    /// Its OAuth2 secret (VCA).
    pub client_secret: Option<String>,
}

impl Account {
    /// Who the records name: `<destination> as <client_id>`.
    pub fn label(&self) -> String {
        format!("{} as {}", self.destination, self.client_id)
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("destination", &self.destination)
            .field("adapter", &self.adapter)
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// This destination at its declared NAP, with its secret opened.
    pub fn resolve<K: KeyValue>(
        &self,
        naps: &Declared,
        secrets: &Secrets<'_, K>,
    ) -> Result<Account> {
        let url = naps.require("NAP", &self.nap)?;
        let client_secret = match (&self.client_secret, self.adapter) {
            (Some(s), _) => {
                Some(secrets.open(s, &format!("destination `{}` client_secret", self.id))?)
            }
            (None, Adapter::Vca) => {
                return Err(Error::Config(format!(
                    "destination `{}` (vca) has no client_secret",
                    self.id
                )));
            }
            (None, Adapter::Eu) => None,
        };
        Ok(Account {
            destination: self.id.clone(),
            adapter: self.adapter,
            url: url.to_owned(),
            client_id: self.client_id.clone(),
            client_secret,
        })
    }
}

/// The signer of `tenant`'s files: its own [`Signer`] at a QTSP of the `qtsps` variable, or, for a
/// tenant without one, the deployment's shared signer (variables `qtsp_url`, `qtsp_client_id`,
/// `qtsp_client_secret`, `qtsp_credential`, `qtsp_pin`) when the deployment has one
/// (`qtsp_credential` set: a deployment for one manufacturer). Otherwise a configuration error
/// saying what to set: nobody signs as somebody else.
pub fn tenant_signer<K: KeyValue>(
    tenant: &Tenant,
    secrets: &Secrets<'_, K>,
) -> Result<SignerConfig> {
    let var = |name: &str| (secrets.variable)(name);
    if let Some(signer) = &tenant.signer {
        let qtsps = Declared::parse("qtsps", &var("qtsps").unwrap_or_default())?;
        return signer.resolve(&qtsps, secrets);
    }
    let shared = |name: &str| {
        var(name).ok_or_else(|| {
            Error::Config(format!(
                "the deployment's shared signer: variable `{name}` is not set"
            ))
        })
    };
    let Some(credential) = var("qtsp_credential") else {
        return Err(Error::Config(format!(
            "tenant `{}` has no signer, and the deployment has no shared one: a primary user sets `signer` with PUT /v1/tenant",
            tenant.id
        )));
    };
    Ok(SignerConfig {
        label: format!("deployment/{credential}"),
        url: shared("qtsp_url")?,
        client_id: shared("qtsp_client_id")?,
        client_secret: shared("qtsp_client_secret")?,
        credential,
        pin: shared("qtsp_pin")?,
        trust_anchors: None,
    })
}

/// The NAP accounts of `tenant`, one per destination at a NAP of the `naps` variable; for a tenant
/// without destinations, the deployment's shared account (variables `nap_url`, `nap_client_id`,
/// `nap_client_secret`) when the deployment has one (`nap_client_id` set), as destination
/// `deployment`. Otherwise a configuration error saying what to set.
pub fn tenant_accounts<K: KeyValue>(
    tenant: &Tenant,
    secrets: &Secrets<'_, K>,
) -> Result<Vec<Account>> {
    let var = |name: &str| (secrets.variable)(name);
    if !tenant.destinations.is_empty() {
        let naps = Declared::parse("naps", &var("naps").unwrap_or_default())?;
        return tenant
            .destinations
            .iter()
            .map(|d| d.resolve(&naps, secrets))
            .collect();
    }
    let Some(client_id) = var("nap_client_id") else {
        return Err(Error::Config(format!(
            "tenant `{}` has no destinations, and the deployment has no shared NAP account: a primary user sets `destinations` with PUT /v1/tenant",
            tenant.id
        )));
    };
    let url = var("nap_url").ok_or_else(|| {
        Error::Config("the deployment's shared NAP account: variable `nap_url` is not set".into())
    })?;
    Ok(vec![Account {
        destination: SHARED_DESTINATION.to_owned(),
        adapter: Adapter::Vca,
        url,
        client_id,
        client_secret: var("nap_client_secret"),
    }])
}

/// The destination id of the deployment's shared NAP account.
pub const SHARED_DESTINATION: &str = "deployment";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(text).unwrap()
    }

    const K1: &str = "k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2=HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

    #[test]
    fn a_stored_secret_is_sealed_listed_without_its_value_and_opened_by_its_tenant_only() {
        let kv = MemoryKv::default();
        let r = ring(K1);
        put_secret(&kv, &r, "acme", "qtsp_pin", "123456").unwrap();
        let raw = String::from_utf8(kv.get(&keys::secrets("acme")).unwrap().unwrap()).unwrap();
        assert!(!raw.contains("123456"), "stored in the clear: {raw}");
        let listed = list_secrets(&kv, "acme").unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].key_id.as_str()),
            ("qtsp_pin", "k1")
        );
        assert!(!serde_json::to_string(&listed).unwrap().contains("123456"));
        let none = |_: &str| None;
        let pin = SecretRef::Secret("qtsp_pin".into());
        assert_eq!(
            Secrets::new(&kv, "acme", Some(&r), &none)
                .open(&pin, "pin")
                .unwrap(),
            "123456"
        );
        // Another tenant naming the same secret finds nothing of acme's.
        let other = Secrets::new(&kv, "other", Some(&r), &none).open(&pin, "pin");
        assert!(matches!(other, Err(Error::Config(m)) if m.contains("not set")));
        // A sealed value copied into another tenant's slot does not open.
        kv.set(&keys::secrets("other"), raw.as_bytes()).unwrap();
        let copied = Secrets::new(&kv, "other", Some(&r), &none).open(&pin, "pin");
        assert!(copied.is_err(), "{copied:?}");
    }

    #[test]
    fn rotating_the_key_keeps_secrets_open_and_reseals_them() {
        let kv = MemoryKv::default();
        put_secret(&kv, &ring(K1), "acme", "a", "one").unwrap();
        put_secret(&kv, &ring(K1), "beta", "b", "two").unwrap();
        let rotated = ring(&format!("{K2},{K1}"));
        let none = |_: &str| None;
        // Opened under the old key, and sealed again under the new one on the way.
        let a = Secrets::new(&kv, "acme", Some(&rotated), &none)
            .open(&SecretRef::Secret("a".into()), "a")
            .unwrap();
        assert_eq!(a, "one");
        assert_eq!(list_secrets(&kv, "acme").unwrap()[0].key_id, "k2");
        assert_eq!(reseal_all(&kv, &rotated).unwrap(), 1);
        assert_eq!(list_secrets(&kv, "beta").unwrap()[0].key_id, "k2");
        // The old key can go now.
        let only_new = ring(K2);
        let b = Secrets::new(&kv, "beta", Some(&only_new), &none)
            .open(&SecretRef::Secret("b".into()), "b")
            .unwrap();
        assert_eq!(b, "two");
    }

    #[test]
    fn a_signer_resolves_at_a_declared_qtsp_only_and_hides_its_secrets() {
        let kv = MemoryKv::default();
        let qtsps = Declared::parse("qtsps", "sandbox=http://127.0.0.1:8787/csc/v2/").unwrap();
        let vars = |name: &str| (name == "acme_secret").then(|| "s3cret".to_owned());
        put_secret(&kv, &ring(K1), "acme", "pin", "4711").unwrap();
        let r = ring(K1);
        let secrets = Secrets::new(&kv, "acme", Some(&r), &vars);
        let mut signer = Signer {
            qtsp: "sandbox".into(),
            client_id: "acme-client".into(),
            client_secret: SecretRef::Variable("acme_secret".into()),
            credential: "rsa-acme".into(),
            pin: SecretRef::Secret("pin".into()),
            trust_anchors: None,
        };
        let config = signer.resolve(&qtsps, &secrets).unwrap();
        assert_eq!(config.url, "http://127.0.0.1:8787/csc/v2");
        assert_eq!(
            (config.client_secret.as_str(), config.pin.as_str()),
            ("s3cret", "4711")
        );
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("4711"),
            "{shown}"
        );
        signer.qtsp = "elsewhere".into();
        let e = signer.resolve(&qtsps, &secrets).unwrap_err().to_string();
        assert!(
            e.contains("`elsewhere` is not one this deployment declares (sandbox)"),
            "{e}"
        );
        let problems = declared_problems(Some(&signer), &[], &qtsps, &Declared::default());
        assert_eq!(problems[0].0, "/signer/qtsp");
    }

    #[test]
    fn declared_lists_are_checked() {
        assert!(Declared::parse("naps", "vca=ftp://x").is_err());
        assert!(Declared::parse("naps", "vca").is_err());
        assert!(Declared::parse("naps", "vca=http://a,vca=http://b").is_err());
        let d = Declared::parse("naps", " vca=http://a , rdw=https://b ").unwrap();
        assert_eq!(d.ids().collect::<Vec<_>>(), ["vca", "rdw"]);
    }
}
