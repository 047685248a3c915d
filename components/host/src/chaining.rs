//! Outbound HTTP from a component: the `allowed_outbound_hosts` check, service chaining
//! (`http://<component>.spin.internal`) and `http://self` served in-process without a
//! socket, everything else sent over the network (HTTPS to a host the component's
//! `[[client_tls]]` entries name through the host's own TLS client, see [`crate::client_tls`]).

use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::client_tls::{self, IoFuture};
use crate::component::{ComponentInfo, MAX_CHAIN_DEPTH, Origin, chain_depth};
use crate::kv::Durability;
use crate::outbound::Destination;

type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;
/// The answer of a request served in-process.
pub(crate) type InProcessFuture = Pin<Box<dyn Future<Output = Response<WasiBody>> + Send>>;

/// Where requests to `http://<component>.spin.internal` and `http://self` are served: the app
/// (`App`, in `app.rs`), seen only as far as outbound HTTP needs it.
pub(crate) trait InProcess: Send + Sync {
    /// Whether a component with this id exists.
    fn has_component(&self, id: &str) -> bool;
    /// Serves `request` to component `target` (service chaining), or through the app's routing
    /// when `target` is `None` (`http://self`).
    fn serve_in_process(
        self: Arc<Self>,
        request: Request<WasiBody>,
        target: Option<String>,
        origin: Origin,
    ) -> InProcessFuture;
}

/// The `wasi:http` hooks of one request's store.
pub struct OutboundHooks {
    app: Arc<dyn InProcess>,
    component: Arc<ComponentInfo>,
    origin: Origin,
    /// Waited for before a request leaves the process: a remote service acts on what it is
    /// sent, so what the component wrote before sending it must be on disk first.
    durability: Durability,
}

impl OutboundHooks {
    pub(crate) fn new(
        app: Arc<dyn InProcess>,
        component: Arc<ComponentInfo>,
        origin: Origin,
        durability: Durability,
    ) -> Self {
        Self {
            app,
            component,
            origin,
            durability,
        }
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        let scheme = request.uri().scheme_str().unwrap_or("http").to_string();
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let dest = Destination::new(&scheme, &authority);
        let caller = self.component.id.clone();
        if !self.component.allow.allows(&dest) {
            tracing::warn!(
                component = %caller,
                destination = %dest,
                "outbound request denied: destination not in allowed_outbound_hosts"
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let depth = chain_depth(request.headers()) + 1;
        let origin = Origin {
            client_addr: self.origin.client_addr,
            depth,
        };
        if dest.is_self() || dest.chained_component().is_some() {
            if depth > MAX_CHAIN_DEPTH {
                tracing::warn!(component = %caller, destination = %dest, depth, "service chain too deep: refused");
                return Box::new(async { Err(HttpError::LoopDetected) });
            }
            let app = self.app.clone();
            let target = dest.chained_component().map(str::to_string);
            return Box::new(async move {
                if let Some(component) = &target
                    && !app.has_component(component)
                {
                    return Err(HttpError::DestinationNotFound);
                }
                let response = app.serve_in_process(request, target, origin).await;
                let done: IoFuture = Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        let tls = self.component.client_tls.lookup(&dest).cloned();
        if let Some(tls) = &tls {
            // Which identity, never the key: the certificate file is enough to tell.
            tracing::debug!(
                target: "ecoc::client_tls",
                component = %caller,
                destination = %dest,
                entry = tls.entry(),
                client_certificate = %tls
                    .identity()
                    .map_or_else(|| "none".to_string(), |p| p.display().to_string()),
                "outbound HTTPS through [[client_tls]]"
            );
        }
        let durability = self.durability.clone();
        Box::new(async move {
            if let Err(e) = durability.wait().await {
                tracing::error!(component = %caller, destination = %dest, error = %e, "writes could not be made durable; request not sent");
                return Err(HttpError::InternalError(Some(format!(
                    "not sent: the key-value store could not make the writes before it durable ({e})"
                ))));
            }
            client_tls::send_outside(request, options, tls.as_deref()).await
        })
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::client_tls::tests::{fixture, get};
    use crate::outbound::AllowList;

    /// An app without components: these tests never chain.
    struct NoApp;

    impl InProcess for NoApp {
        fn has_component(&self, _id: &str) -> bool {
            false
        }
        fn serve_in_process(
            self: Arc<Self>,
            _request: Request<WasiBody>,
            _target: Option<String>,
            _origin: Origin,
        ) -> InProcessFuture {
            unreachable!("no service chaining in these tests")
        }
    }

    fn hooks(
        id: &str,
        allowed: &[String],
        rc: &crate::runtime_config::RuntimeConfig,
    ) -> OutboundHooks {
        let info = ComponentInfo {
            id: id.to_string(),
            kv_labels: Default::default(),
            allow: AllowList::parse(id, allowed, |e| Ok(e.to_string())).unwrap(),
            client_tls: rc.client_tls.for_component(id),
            environment: Vec::new(),
        };
        let origin = Origin {
            client_addr: "127.0.0.1:1".parse().unwrap(),
            depth: 0,
        };
        OutboundHooks::new(
            Arc::new(NoApp),
            Arc::new(info),
            origin,
            Durability::default(),
        )
    }

    async fn send(hooks: &mut OutboundHooks, url: &str) -> Result<String, HttpError> {
        let done: IoFuture = Box::new(async { Ok(()) });
        let sent = Box::into_pin(hooks.send_request(get(url), None, done)).await;
        let (response, io) = sent?;
        let io = tokio::spawn(Box::into_pin(io));
        let body = response.into_body().collect().await?.to_bytes();
        drop(io);
        Ok(String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_hook_uses_the_component_s_client_certificate_after_the_allow_list() {
        let f = fixture().await;
        let url = format!("https://localhost:{}/whoami", f.addr.port());
        let allowed = vec![format!("https://localhost:{}", f.addr.port())];
        let mut submit = hooks("submit", &allowed, &f.rc);
        assert_eq!(
            send(&mut submit, &url).await.unwrap(),
            "ecoc-submit.tenant-a"
        );
        // A [[client_tls]] entry does not allow a host: allowed_outbound_hosts still decides.
        let mut fenced = hooks("submit", &[], &f.rc);
        assert!(matches!(
            send(&mut fenced, &url).await,
            Err(HttpError::HttpRequestDenied)
        ));
        // Allowed, but no entry for this component: the default client, which does not trust
        // the test CA.
        let mut other = hooks("map", &allowed, &f.rc);
        assert!(send(&mut other, &url).await.is_err());
    }
}
