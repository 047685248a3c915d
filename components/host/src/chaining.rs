//! Outbound HTTP from a component: the `allowed_outbound_hosts` check, service chaining
//! (`http://<component>.spin.internal`) and `http://self` served in-process without a
//! socket, everything else sent over the network.

use std::sync::Arc;

use http::Request;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::{App, ComponentInfo, MAX_CHAIN_DEPTH, Origin, chain_depth};
use crate::outbound::Destination;

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// The `wasi:http` hooks of one request's store.
pub struct OutboundHooks {
    app: Arc<App>,
    component: Arc<ComponentInfo>,
    origin: Origin,
}

impl OutboundHooks {
    pub(crate) fn new(app: Arc<App>, component: Arc<ComponentInfo>, origin: Origin) -> Self {
        Self {
            app,
            component,
            origin,
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
                let response = match target {
                    Some(component) => {
                        if !app.has_component(&component) {
                            return Err(HttpError::DestinationNotFound);
                        }
                        app.handle_chained(request, &component, origin).await
                    }
                    None => app.handle_external(request, origin).await,
                };
                let done: IoFuture = Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: IoFuture = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}
