//! Tells the subgraphs who the client is. Every subgraph request comes from the router's address,
//! so without this the per-address limits of the subgraphs (failed logins, registrations,
//! connections) would count every client of the router as one: one attacker's failed logins would
//! throttle everyone's. The router resolves the client's address the way the services do (its
//! peer, or what `X-Forwarded-For` says when the peer is one of `TRUSTED_PROXIES`) and sends it
//! as the only `X-Forwarded-For` hop; the services believe it when the router's address is in
//! their own `TRUSTED_PROXIES`. A client's own `X-Forwarded-For` never reaches a subgraph.

use std::net::IpAddr;

use hive_router::executor::hooks::on_http_request::{
    OnHttpRequestHookFuture, OnHttpRequestHookPayload,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::hooks::on_subgraph_http_request::{
    OnSubgraphHttpRequestHookPayload, OnSubgraphHttpRequestHookResult,
};
use hive_router::executor::plugin_trait::{RouterPlugin, StartHookPayload};
use hive_router::http::HeaderValue;
use web::http::TrustedProxies;

pub struct ClientAddressPlugin {
    proxies: TrustedProxies,
}

/// The client of the request being served.
struct Client(IpAddr);

impl ClientAddressPlugin {
    pub fn new(settings: &crate::Settings) -> anyhow::Result<Self> {
        Ok(Self {
            proxies: settings.trusted_proxies.clone(),
        })
    }
}

#[hive_router::async_trait]
impl RouterPlugin for ClientAddressPlugin {
    type Config = crate::NoOptions;

    fn plugin_name() -> &'static str {
        "ecommerce_client_address"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        crate::init(payload, Self::new)
    }

    fn on_http_request<'req>(
        &'req self,
        payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        let request = &payload.router_http_request;
        if let Some(peer) = request.peer_addr() {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok());
            let client = self.proxies.client_behind(peer.ip(), forwarded);
            payload.context.insert(Client(client));
        }
        Box::pin(async move { payload.proceed() })
    }

    async fn on_subgraph_http_request<'exec>(
        &'exec self,
        mut payload: OnSubgraphHttpRequestHookPayload<'exec>,
    ) -> OnSubgraphHttpRequestHookResult<'exec> {
        let client = payload.context.get_ref::<Client>().map(|client| client.0);
        let headers = &mut payload.execution_request.headers;
        headers.remove("x-forwarded-for");
        if let Some(client) = client
            && let Ok(value) = HeaderValue::from_str(&client.to_string())
        {
            headers.insert("x-forwarded-for", value);
        }
        payload.proceed()
    }
}
