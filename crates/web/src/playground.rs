//! The GraphiQL playground page: pinned asset versions with Subresource Integrity, loaded from a
//! CDN (unpkg's layout) or served by the service itself from a local folder, so it works with no
//! internet; and a Content-Security-Policy that allows exactly those scripts.

use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// One pinned file of the playground: where it lives in its npm package and its SRI hash.
struct Asset {
    /// `package@version`, as in unpkg and jsDelivr URLs.
    package: &'static str,
    /// The package's folder under `node_modules`.
    folder: &'static str,
    file: &'static str,
    integrity: &'static str,
}

/// The exact files the page loads. The hashes are of the npm packages' files (a test checks them
/// against the packages, which `scripts/test.sh` installs); the browser refuses other bytes.
const ASSETS: [Asset; 4] = [
    Asset {
        package: "react@18.3.1",
        folder: "react",
        file: "umd/react.production.min.js",
        integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    },
    Asset {
        package: "react-dom@18.3.1",
        folder: "react-dom",
        file: "umd/react-dom.production.min.js",
        integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    },
    Asset {
        package: "graphiql@3.8.3",
        folder: "graphiql",
        file: "graphiql.min.js",
        integrity: "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    },
    Asset {
        package: "graphiql@3.8.3",
        folder: "graphiql",
        file: "graphiql.min.css",
        integrity: "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    },
];

/// The packages to install for a local asset folder: `npm install <these>`.
pub const NPM_PACKAGES: &[&str] = &["react@18.3.1", "react-dom@18.3.1", "graphiql@3.8.3"];

/// Where the page's scripts and styles come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assets {
    /// A CDN with unpkg's layout (`<base>/<package>@<version>/<file>`).
    Cdn(String),
    /// A `node_modules` folder holding [`NPM_PACKAGES`], served at `/graphql/assets/...`.
    Local(PathBuf),
}

impl Default for Assets {
    fn default() -> Self {
        Assets::Cdn("https://unpkg.com".to_owned())
    }
}

impl Assets {
    /// Served from a `node_modules` folder (machines without internet), which must hold every
    /// pinned file.
    pub fn local(dir: PathBuf) -> anyhow::Result<Self> {
        for asset in &ASSETS {
            let path = dir.join(asset.folder).join(asset.file);
            anyhow::ensure!(
                path.is_file(),
                "GRAPHIQL_ASSETS_DIR: {} is missing; install the playground with \
                     `npm install {}` and point GRAPHIQL_ASSETS_DIR at its node_modules",
                path.display(),
                NPM_PACKAGES.join(" ")
            );
        }
        Ok(Assets::Local(dir))
    }

    /// Loaded from a CDN with unpkg's layout.
    pub fn cdn(base: &str) -> Self {
        Assets::Cdn(base.trim_end_matches('/').to_owned())
    }

    fn url(&self, asset: &Asset) -> String {
        match self {
            Assets::Cdn(base) => format!("{base}/{}/{}", asset.package, asset.file),
            Assets::Local(_) => format!("/graphql/assets/{}/{}", asset.folder, asset.file),
        }
    }

    /// Where the page's scripts (or styles) may come from, for its Content-Security-Policy:
    /// exactly the pinned files' URLs, not their whole CDN.
    fn sources(&self, styles: bool) -> String {
        match self {
            Assets::Cdn(_) => ASSETS
                .iter()
                .filter(|a| a.file.ends_with(".css") == styles)
                .map(|a| self.url(a))
                .collect::<Vec<_>>()
                .join(" "),
            Assets::Local(_) => "'self'".to_owned(),
        }
    }
}

/// The rendered page and its policy, built once at start-up.
#[derive(Clone, Debug)]
pub struct Playground {
    html: String,
    policy: HeaderValue,
    assets: Assets,
}

/// Renders GraphiQL against the `/graphql` of the page's own origin.
const BOOT: &str = "const root = ReactDOM.createRoot(document.getElementById('graphiql'));\n\
root.render(React.createElement(GraphiQL, {\n  fetcher: GraphiQL.createFetcher({ url: '/graphql' }),\n  \
defaultEditorToolsVisibility: true,\n}));";

impl Playground {
    pub fn new(title: &str, assets: Assets) -> Self {
        let mut head = String::new();
        let mut scripts = String::new();
        for asset in &ASSETS {
            let url = assets.url(asset);
            if asset.file.ends_with(".css") {
                head.push_str(&format!(
                    "<link rel=\"stylesheet\" href=\"{url}\" integrity=\"{}\" crossorigin=\"anonymous\">\n",
                    asset.integrity
                ));
            } else {
                scripts.push_str(&format!(
                    "<script src=\"{url}\" integrity=\"{}\" crossorigin=\"anonymous\"></script>\n",
                    asset.integrity
                ));
            }
        }
        let title = html_escape(title);
        let html = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n{head}<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>\n\
             </head>\n<body>\n<div id=\"graphiql\">Loading the playground…</div>\n{scripts}<script>{BOOT}</script>\n</body>\n</html>\n"
        );
        let boot_hash = STANDARD.encode(Sha256::digest(BOOT.as_bytes()));
        let scripts_from = assets.sources(false);
        let styles_from = assets.sources(true);
        // GraphiQL's editor sets styles from script at run time, hence 'unsafe-inline' for
        // styles only; scripts are exactly the pinned files and the page's one inline script.
        let policy = format!(
            "default-src 'none'; script-src {scripts_from} 'sha256-{boot_hash}'; \
             style-src {styles_from} 'unsafe-inline'; font-src data:; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        Self {
            html,
            // Built from constants and a base64 hash: always a valid header value.
            policy: HeaderValue::from_str(&policy)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
            assets,
        }
    }

    /// The page's HTML.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// The page's Content-Security-Policy.
    pub fn policy(&self) -> &str {
        self.policy.to_str().unwrap_or("default-src 'none'")
    }

    /// `/graphql/assets/{folder}/{file}`: where that pinned file lies in the local folder, and
    /// its content type. `None` for anything else, and always when the assets come from a CDN;
    /// no path from a request ever reaches the file system.
    pub fn local_file(&self, folder: &str, file: &str) -> Option<(PathBuf, &'static str)> {
        let Assets::Local(dir) = &self.assets else {
            return None;
        };
        let asset = ASSETS
            .iter()
            .find(|a| a.folder == folder && a.file == file)?;
        let content_type = if asset.file.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        Some((dir.join(asset.folder).join(asset.file), content_type))
    }

    /// `GET /graphql`: the page.
    pub fn page(&self) -> Response {
        let mut response = Html(self.html.clone()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, self.policy.clone());
        response
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /graphql/assets/{folder}/{*file}`: one of the pinned files from the local folder, and
/// nothing else (no path from the request ever reaches the file system).
pub async fn asset(
    State(playground): State<std::sync::Arc<Playground>>,
    Path((folder, file)): Path<(String, String)>,
) -> Response {
    let Some((path, content_type)) = playground.local_file(&folder, &file) else {
        return ApiError::not_found("asset").into_response();
    };
    match tokio::fs::read(path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, ASSET_CACHE_CONTROL),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => ApiError::internal(&err).into_response(),
    }
}

/// The pinned files never change under their URL.
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=86400, immutable";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdn_page_pins_versions_with_integrity() {
        let page = Playground::new("users <subgraph>", Assets::default());
        for asset in &ASSETS {
            assert!(page.html.contains(&format!(
                "https://unpkg.com/{}/{}\" integrity=\"{}\"",
                asset.package, asset.file, asset.integrity
            )));
        }
        assert!(page.html.contains("<title>users &lt;subgraph&gt;</title>"));
        let policy = page.policy.to_str().unwrap();
        assert!(
            policy.contains(
                "script-src https://unpkg.com/react@18.3.1/umd/react.production.min.js \
                 https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js \
                 https://unpkg.com/graphiql@3.8.3/graphiql.min.js 'sha256-"
            ),
            "scripts only from the pinned URLs: {policy}"
        );
        assert!(
            !policy.contains("https://unpkg.com "),
            "never the whole CDN: {policy}"
        );
        assert!(!policy.contains("unsafe-eval"));
    }

    #[test]
    fn the_inline_script_is_the_one_the_policy_allows() {
        let page = Playground::new("t", Assets::Local(PathBuf::from("/nowhere")));
        let hash = STANDARD.encode(Sha256::digest(BOOT.as_bytes()));
        assert!(page.html.contains(&format!("<script>{BOOT}</script>")));
        assert!(page.policy.to_str().unwrap().contains(&hash));
        assert!(
            page.html
                .contains("src=\"/graphql/assets/graphiql/graphiql.min.js\"")
        );
        assert!(page.policy.to_str().unwrap().contains("script-src 'self'"));
    }

    /// With `GRAPHIQL_ASSETS_DIR` set (scripts/test.sh installs the packages from npm), the
    /// pinned hashes must be those of the real files, or every browser would refuse them.
    #[test]
    fn pinned_hashes_match_the_npm_packages() {
        let Some(dir) = std::env::var_os("GRAPHIQL_ASSETS_DIR") else {
            panic!(
                "\n\nGRAPHIQL_ASSETS_DIR is not set: run the tests with scripts/test.sh, which \
                 installs the playground's npm packages ({}), or set it to their node_modules.\n",
                NPM_PACKAGES.join(" ")
            );
        };
        for asset in &ASSETS {
            let path = PathBuf::from(&dir).join(asset.folder).join(asset.file);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let digest = sha2::Sha384::digest(&bytes);
            assert_eq!(
                format!("sha384-{}", STANDARD.encode(digest)),
                asset.integrity,
                "{}",
                path.display()
            );
        }
    }
}
