//! The playground: the subgraphs' GraphiQL page ([`web::Playground`]: pinned versions,
//! Subresource Integrity from a CDN, or the files served from `GRAPHIQL_ASSETS_DIR` with no
//! internet) on `GET /graphql` for a browser, in place of the engine's laboratory, which loads
//! an unversioned GraphiQL from a CDN. Every response also gets the subgraphs' security headers
//! unless it set its own.

use std::sync::Arc;

use hive_router::executor::hooks::on_http_request::{
    OnHttpRequestHookFuture, OnHttpRequestHookPayload,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload};
use hive_router::ntex::http::{HeaderMap, Method, Response, StatusCode, header};
use web::Playground;

pub struct PlaygroundPlugin {
    playground: Arc<Playground>,
}

const ASSETS_PREFIX: &str = "/graphql/assets/";

impl PlaygroundPlugin {
    pub fn new(settings: &crate::Settings) -> anyhow::Result<Self> {
        Ok(Self {
            playground: Arc::new(Playground::new("ecommerce router", settings.assets.clone())),
        })
    }
}

/// Whether a GET on the GraphQL path comes from a browser wanting a page, not an operation.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Adds the subgraphs' security headers a response has not set itself.
fn secure(headers: &mut HeaderMap) {
    for (name, value) in web::http::SECURITY_HEADERS {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_str(value),
        ) && !headers.contains_key(&name)
        {
            headers.insert(name, value);
        }
    }
}

fn secured(mut response: Response) -> Response {
    secure(response.headers_mut());
    response
}

fn not_found() -> Response {
    Response::build(StatusCode::NOT_FOUND)
        .content_type("application/json")
        .body(r#"{"error":{"code":"NOT_FOUND","message":"asset not found"}}"#)
}

impl PlaygroundPlugin {
    fn page(&self) -> Response {
        Response::build(StatusCode::OK)
            .content_type("text/html; charset=utf-8")
            .header(header::CONTENT_SECURITY_POLICY, self.playground.policy())
            .header(header::CACHE_CONTROL, "no-store")
            .body(self.playground.html().to_owned())
    }

    async fn asset(&self, path: &str) -> Response {
        let Some((folder, file)) = path.split_once('/') else {
            return not_found();
        };
        let Some((path, content_type)) = self.playground.local_file(folder, file) else {
            return not_found();
        };
        match hive_router::tokio::fs::read(&path).await {
            Ok(bytes) => Response::build(StatusCode::OK)
                .content_type(content_type)
                .header(header::CACHE_CONTROL, web::playground::ASSET_CACHE_CONTROL)
                .body(bytes),
            Err(err) => {
                hive_router::tracing::error!(error = %err, path = %path.display(), "cannot read a playground asset");
                Response::build(StatusCode::INTERNAL_SERVER_ERROR)
                    .content_type("application/json")
                    .body(r#"{"error":{"code":"INTERNAL","message":"internal error"}}"#)
            }
        }
    }
}

#[hive_router::async_trait]
impl RouterPlugin for PlaygroundPlugin {
    type Config = crate::NoOptions;

    fn plugin_name() -> &'static str {
        "ecommerce_playground"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        crate::init(payload, Self::new)
    }

    fn on_http_request<'req>(
        &'req self,
        payload: OnHttpRequestHookPayload<'req>,
    ) -> OnHttpRequestHookFuture<'req> {
        Box::pin(async move {
            let request = &payload.router_http_request;
            if request.method() == Method::GET {
                let path = request.path();
                if path == "/graphql" && wants_html(request.headers()) {
                    let page = secured(self.page());
                    return payload.end_with_response(page);
                }
                if let Some(rest) = path.strip_prefix(ASSETS_PREFIX) {
                    let rest = rest.to_owned();
                    let asset = secured(self.asset(&rest).await);
                    return payload.end_with_response(asset);
                }
            }
            payload.on_end(|end| {
                end.map_response(|mut response| {
                    secure(response.headers_mut());
                    response
                })
                .proceed()
            })
        })
    }
}
