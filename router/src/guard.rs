//! The document guard in front of the engine: the same [`graphql_guard::Guard`] every subgraph runs,
//! with the limits read from the same `GRAPHQL_MAX_*` variables, applied before the engine parses,
//! validates or plans anything. Its parser, like async-graphql's, recurses once per nesting level;
//! its validation walks fragments as often as they are spread.
//!
//! Two checks, both on the raw request:
//! 1. the JSON body nests at most `GRAPHQL_MAX_JSON_NESTING` levels (default 64): variables are
//!    parsed into values before anything looks at them, and a deeply nested value costs the
//!    parser's stack and every walk over it;
//! 2. the document passes the guard (tokens, bracket nesting, depth, selections, aliases, root
//!    fields, directives and expensive mutations, all with fragments expanded).
//!
//! A refusal is a GraphQL error with the code and HTTP status the subgraphs answer with.

use contracts::ErrorCode;
use graphql_guard::{Guard, Refusal};
use hive_router::GraphQLError;
use hive_router::executor::hooks::on_graphql_params::{
    OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult,
};
use hive_router::executor::hooks::on_plugin_init::{OnPluginInitPayload, OnPluginInitResult};
use hive_router::executor::plugin_trait::{EndHookPayload, RouterPlugin, StartHookPayload};

/// How deeply a request body's JSON may nest unless `GRAPHQL_MAX_JSON_NESTING` says otherwise.
/// A GraphQL request is `{"variables": {"input": {...}}}`: three levels before any value.
pub const DEFAULT_MAX_JSON_NESTING: usize = 64;

pub struct GuardPlugin {
    guard: Guard,
    max_json_nesting: usize,
    passed: Passed,
}

/// Documents the guard has passed, by SHA-256 of their text: the verdict depends on the text
/// alone (variables are bounded on every request), and clients send the same few documents
/// over and over. Parsing each again was the largest share of the router's own CPU time in the
/// one query's profile (BENCHMARKS.md). Refusals are not remembered, and at [`Passed::CAPACITY`]
/// the set starts over, so no stream of documents grows it.
#[derive(Default)]
pub struct Passed(std::sync::Mutex<std::collections::HashSet<[u8; 32]>>);

impl Passed {
    pub const CAPACITY: usize = 4096;

    fn key(document: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(document.as_bytes()).into()
    }

    fn set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<[u8; 32]>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `check`'s verdict on `document`, unless it has passed before.
    pub fn check(
        &self,
        document: &str,
        check: impl FnOnce() -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let key = Self::key(document);
        if self.set().contains(&key) {
            return Ok(());
        }
        check()?;
        let mut set = self.set();
        if set.len() >= Self::CAPACITY {
            set.clear();
        }
        set.insert(key);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.set().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GuardPlugin {
    pub fn new(settings: &crate::Settings) -> anyhow::Result<Self> {
        let max_json_nesting = settings.max_json_nesting;
        // The mutations that cost a password hash or a checkout, wherever they are served.
        let expensive: Vec<&str> = contracts::expensive::ALL.concat();
        // Entity representations are the subgraphs' concern: the router's API has no `_entities`.
        Ok(Self {
            guard: Guard::new(settings.limits.clone(), &expensive, u64::MAX),
            max_json_nesting,
            passed: Passed::default(),
        })
    }

    fn check_body(&self, body: &[u8]) -> Result<(), Refusal> {
        if json_nesting_exceeds(body, self.max_json_nesting) {
            return Err(Refusal::TooNested {
                limit: self.max_json_nesting,
            });
        }
        Ok(())
    }
}

/// Whether `json` opens more than `limit` arrays and objects at once. One pass, no recursion;
/// brackets inside strings do not count. Malformed JSON is left to the parser.
pub fn json_nesting_exceeds(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `bytes` with `%XX` escapes and `+` decoded, as a query string or form body is read.
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn refusal_error(refusal: &Refusal) -> (GraphQLError, hive_router::http::StatusCode) {
    let code: ErrorCode = refusal.code();
    let status = hive_router::http::StatusCode::from_u16(code.status().as_u16())
        .unwrap_or(hive_router::http::StatusCode::BAD_REQUEST);
    (
        GraphQLError::from_message_and_code(refusal.to_string(), code.as_str()),
        status,
    )
}

#[hive_router::async_trait]
impl RouterPlugin for GuardPlugin {
    type Config = crate::NoOptions;

    fn plugin_name() -> &'static str {
        "ecommerce_guard"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        crate::init(payload, Self::new)
    }

    async fn on_graphql_params<'exec>(
        &'exec self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        // Variables come in the body, or URL-encoded in the query string of a GET (or in a
        // form-encoded body): all are bounded before the engine decodes any of them.
        let request = payload.router_http_request;
        let form_encoded = !request
            .headers
            .get(hive_router::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        let checked = self
            .check_body(&percent_decoded(request.query_string.as_bytes()))
            .and_then(|()| match form_encoded {
                true => self.check_body(&percent_decoded(&payload.body)),
                false => self.check_body(&payload.body),
            });
        if let Err(refusal) = checked {
            let (error, status) = refusal_error(&refusal);
            return payload.end_with_graphql_error(error, status);
        }
        // The document is checked once the engine has read the parameters (from the body, or
        // from the query string of a GET).
        payload.on_end(move |end| {
            match end.graphql_params.query.as_deref().map(|query| {
                self.passed
                    .check(query, || self.guard.check(query).map(drop))
            }) {
                Some(Err(refusal)) => {
                    let (error, status) = refusal_error(&refusal);
                    end.end_with_graphql_error(error, status)
                }
                _ => end.proceed(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_document_is_not_checked_again_and_a_refused_one_always_is() {
        let passed = Passed::default();
        let mut checks = 0;
        for _ in 0..3 {
            let verdict = passed.check("{ me { id } }", || {
                checks += 1;
                Ok(())
            });
            assert!(verdict.is_ok());
        }
        assert_eq!(checks, 1);
        let refuse = || Err(Refusal::Syntax("no".into()));
        for _ in 0..3 {
            assert!(passed.check("{ me {", refuse).is_err());
        }
        assert_eq!(passed.len(), 1);
        // Another text, even one that parses the same, is checked on its own.
        let mut checked = false;
        assert!(
            passed
                .check("{me{id}}", || {
                    checked = true;
                    Ok(())
                })
                .is_ok()
        );
        assert!(checked);
    }

    #[test]
    fn the_passed_set_stays_bounded() {
        let passed = Passed::default();
        for i in 0..Passed::CAPACITY * 2 + 5 {
            passed.check(&format!("{{ f{i} }}"), || Ok(())).unwrap();
            assert!(passed.len() <= Passed::CAPACITY);
        }
        assert!(!passed.is_empty());
    }

    #[test]
    fn nesting_counts_brackets_outside_strings() {
        assert!(!json_nesting_exceeds(br#"{"a":[[1]]}"#, 3));
        assert!(json_nesting_exceeds(br#"{"a":[[[1]]]}"#, 3));
        assert!(!json_nesting_exceeds(br#"{"a":"[[[[[[\"[[[["}"#, 1));
        assert!(!json_nesting_exceeds(br#"{"a":"\\"}"#, 1));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(json_nesting_exceeds(deep.as_bytes(), 64));
        let encoded = format!(
            "variables=%7B%22f%22%3A{}1{}%7D",
            "%5B".repeat(100),
            "%5D".repeat(100)
        );
        assert!(!json_nesting_exceeds(encoded.as_bytes(), 64));
        assert!(json_nesting_exceeds(
            &percent_decoded(encoded.as_bytes()),
            64
        ));
        assert_eq!(percent_decoded(b"a+b%20c%zz%4"), b"a b c%zz%4");
    }
}
