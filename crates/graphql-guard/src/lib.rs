//! The document guard: what every GraphQL document passes before anything expensive runs.
//!
//! async-graphql's parser recurses once per nesting level of values, lists, objects and selection
//! sets, and its validation walks fragment spreads as often as they are spread. A 4 KB document
//! of nested brackets overflows the stack of a worker thread (the whole process aborts); a 1 KB
//! document of fragments that each spread the one below twice validates for seconds and
//! allocates hundreds of megabytes. The guard bounds both before async-graphql sees the document,
//! in three steps, none of them recursive:
//!
//! 1. [`scan`]: one pass over the bytes counts tokens and the deepest bracket nesting (`{`, `[`,
//!    `(` outside strings and comments). This bounds the parser's recursion before it runs.
//! 2. The document is parsed (now safely) by async-graphql's own parser, so what the guard
//!    measures is exactly what the service would execute; the parsed document is handed on, so
//!    nothing is parsed twice.
//! 3. [`Cost::of`]: every definition's cost is computed once from its own selections, then each
//!    fragment's cost with its spreads expanded is derived from the costs of the fragments it
//!    spreads, in dependency order (memoised, never by expanding: a fragment spread twice counts
//!    twice its cost, in saturating arithmetic). Fragment cycles are refused.
//!
//! What is limited ([`Limits`]; the launcher reads each from its `GRAPHQL_MAX_*` variable): tokens, bracket nesting,
//! depth (selection sets, fragment spreads and inline fragments, with fragments expanded),
//! selections after expansion (fields, spreads and inline fragments — the work validation and
//! execution do), aliases, root fields, directives, and expensive mutations per request (fields
//! such as `login` whose every call costs a password hash).
//!
//! 4. [`representations`]: federation's `_entities` resolves its selection once per
//!    representation, so a small selection over 900 representations (a 60 KB body) does the work
//!    of 900 queries. Their number, given inline or in a variable, is limited per request.
//!
//! The crate depends on async-graphql's parser and on the error codes of `contracts`, nothing
//! else of ours, so the federation router puts the same guard in front of its planner.

use std::collections::{HashMap, HashSet};

use async_graphql::Value as ConstValue;
use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

use contracts::ErrorCode;

/// How large a document may be. The defaults admit every query the platform's clients send
/// (GraphiQL's introspection query included) with room to spare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Lexical tokens in the document (`GRAPHQL_MAX_TOKENS`).
    pub max_tokens: usize,
    /// Brackets open at once: `{`, `[` and `(` (`GRAPHQL_MAX_NESTING`).
    pub max_nesting: usize,
    /// Selection depth with fragments expanded; spreads and inline fragments count as a level
    /// (`GRAPHQL_MAX_DEPTH`).
    pub max_depth: u64,
    /// Fields, fragment spreads and inline fragments with fragments expanded, over every
    /// operation of the document (`GRAPHQL_MAX_SELECTIONS`).
    pub max_selections: u64,
    /// Aliased fields with fragments expanded (`GRAPHQL_MAX_ALIASES`).
    pub max_aliases: u64,
    /// Fields at the root of operations (`GRAPHQL_MAX_ROOT_FIELDS`).
    pub max_root_fields: u64,
    /// Directives with fragments expanded (`GRAPHQL_MAX_DIRECTIVES`).
    pub max_directives: u64,
    /// Expensive mutation fields per request (`GRAPHQL_MAX_EXPENSIVE_MUTATIONS`).
    pub max_expensive: u64,
    /// Field comparisons validation makes to check that fields merge (see
    /// [`Cost::validation`]; `GRAPHQL_MAX_VALIDATION_WORK`).
    pub max_validation: u64,
    /// Entity representations per request (`GRAPHQL_MAX_REPRESENTATIONS`); unset, each service
    /// says how many it resolves cheaply.
    pub max_representations: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_tokens: 10_000,
            max_nesting: 64,
            max_depth: 32,
            max_selections: 1_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_directives: 50,
            max_expensive: 1,
            max_validation: 5_000,
            max_representations: None,
        }
    }
}

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the document has more than {limit} tokens")]
    TooManyTokens { limit: usize },
    #[error("the document nests brackets more than {limit} levels deep")]
    TooNested { limit: usize },
    #[error("{0}")]
    Syntax(String),
    #[error("fragment {0} spreads itself, directly or through other fragments")]
    FragmentCycle(String),
    #[error("the document has {found} {measure} (with fragments expanded); the limit is {limit}")]
    TooLarge {
        measure: Measure,
        found: u64,
        limit: u64,
    },
    #[error("at most {limit} of the mutations {fields} may run per request; send them separately")]
    TooManyExpensive { fields: String, limit: u64 },
}

impl Refusal {
    /// The code this refusal answers with (REST-style status included).
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Syntax(_) => ErrorCode::GraphqlParseFailed,
            Refusal::FragmentCycle(_) => ErrorCode::GraphqlValidationFailed,
            _ => ErrorCode::QueryTooComplex,
        }
    }
}

/// What a [`Refusal::TooLarge`] measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Depth,
    Selections,
    Aliases,
    RootFields,
    Directives,
    Validation,
    Representations,
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Measure::Depth => "levels of nesting",
            Measure::Selections => "selections",
            Measure::Aliases => "aliases",
            Measure::RootFields => "root fields",
            Measure::Directives => "directives",
            Measure::Validation => "field comparisons to validate",
            Measure::Representations => "entity representations",
        })
    }
}

/// The guard of one service (or of the router): its limits and which mutation fields are
/// expensive.
#[derive(Clone, Debug)]
pub struct Guard {
    limits: Limits,
    expensive: Vec<String>,
    max_representations: u64,
}

impl Guard {
    /// `max_representations` applies unless the limits set their own.
    pub fn new(limits: Limits, expensive: &[&str], max_representations: u64) -> Self {
        Self {
            max_representations: limits.max_representations.unwrap_or(max_representations),
            limits,
            expensive: expensive.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Scans, parses and measures `source`; the parsed document if it is within the limits.
    pub fn check(&self, source: &str) -> Result<ExecutableDocument, Refusal> {
        scan(source, &self.limits)?;
        let document = async_graphql::parser::parse_query(source)
            .map_err(|err| Refusal::Syntax(err.to_string()))?;
        let cost = Cost::of(&document, &self.expensive)?;
        self.within_limits(&cost)?;
        Ok(document)
    }

    /// Refuses a checked document whose operations ask for more entity representations than
    /// the limit, counting the lists `variables` give.
    pub fn check_representations(
        &self,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<(), Refusal> {
        let found = representations(document, variables);
        if found > self.max_representations {
            return Err(Refusal::TooLarge {
                measure: Measure::Representations,
                found,
                limit: self.max_representations,
            });
        }
        Ok(())
    }

    fn within_limits(&self, cost: &Cost) -> Result<(), Refusal> {
        let l = &self.limits;
        let checks = [
            (Measure::Depth, cost.depth, l.max_depth),
            (Measure::Selections, cost.selections, l.max_selections),
            (Measure::Aliases, cost.aliases, l.max_aliases),
            (Measure::RootFields, cost.root_fields, l.max_root_fields),
            (Measure::Directives, cost.directives, l.max_directives),
            (Measure::Validation, cost.validation, l.max_validation),
        ];
        for (measure, found, limit) in checks {
            if found > limit {
                return Err(Refusal::TooLarge {
                    measure,
                    found,
                    limit,
                });
            }
        }
        if cost.expensive > l.max_expensive {
            return Err(Refusal::TooManyExpensive {
                fields: self.expensive.join(", "),
                limit: l.max_expensive,
            });
        }
        Ok(())
    }
}

/// One pass over the bytes: refuses documents with more than `max_tokens` tokens, brackets
/// nested deeper than `max_nesting`, or a block string that is never closed. Strings, block strings and comments are skipped as the
/// parser reads them, so brackets inside them do not count; anything the parser would reject
/// may be counted generously, since the parser stops there.
pub fn scan(source: &str, limits: &Limits) -> Result<Lexed, Refusal> {
    let bytes = source.as_bytes();
    let (mut at, mut nesting, mut tokens) = (0usize, 0usize, 0usize);
    let mut deepest = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let token = match rest[0] {
            b' ' | b'\t' | b',' | b'\n' | b'\r' => {
                at += 1;
                false
            }
            0xEF if rest.starts_with(&[0xEF, 0xBB, 0xBF]) => {
                at += 3;
                false
            }
            b'#' => {
                at += rest
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(rest.len());
                false
            }
            // An unclosed block string is refused: the parser would backtrack, read `""` as an
            // empty string and parse on (brackets included), retrying a block string at every
            // later `"""` and scanning to the end each time, which is quadratic. No client
            // sends one.
            b'"' if rest.starts_with(b"\"\"\"") => {
                at = block_string_end(bytes, at + 3).ok_or_else(|| {
                    Refusal::Syntax("a block string (\"\"\") is never closed".to_owned())
                })?;
                true
            }
            b'"' => {
                at += 1 + string_len(&rest[1..]);
                true
            }
            b'{' | b'[' | b'(' => {
                nesting += 1;
                deepest = deepest.max(nesting);
                if nesting > limits.max_nesting {
                    return Err(Refusal::TooNested {
                        limit: limits.max_nesting,
                    });
                }
                at += 1;
                true
            }
            b'}' | b']' | b')' => {
                nesting = nesting.saturating_sub(1);
                at += 1;
                true
            }
            b'.' if rest.starts_with(b"...") => {
                at += 3;
                true
            }
            b if b == b'_' || b.is_ascii_alphabetic() => {
                at += run(rest, |b| b == b'_' || b.is_ascii_alphanumeric());
                true
            }
            b if b == b'-' || b.is_ascii_digit() => {
                at += 1 + run(&rest[1..], |b| {
                    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
                });
                true
            }
            _ => {
                at += 1;
                true
            }
        };
        if token {
            tokens += 1;
            if tokens > limits.max_tokens {
                return Err(Refusal::TooManyTokens {
                    limit: limits.max_tokens,
                });
            }
        }
    }
    Ok(Lexed {
        tokens,
        nesting: deepest,
    })
}

/// What [`scan`] counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexed {
    pub tokens: usize,
    /// The most brackets open at once.
    pub nesting: usize,
}

/// Length of the leading run of bytes that satisfy `keep`.
fn run(bytes: &[u8], keep: impl Fn(u8) -> bool) -> usize {
    bytes.iter().position(|&b| !keep(b)).unwrap_or(bytes.len())
}

/// Bytes up to and including the closing quote of a string whose opening quote was consumed. A
/// line break ends it unclosed (the parser rejects that), an escape skips the next byte.
fn string_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => return at + 1,
            b'\\' => at += 2,
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The byte after the closing `"""` of a block string whose content starts at `start`, walking
/// it as the parser does (one byte, or four for the escape `\"""`); `None` if never closed.
fn block_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.starts_with(b"\\\"\"\"") {
            at += 4;
        } else if rest.starts_with(b"\"\"\"") {
            return Some(at + 3);
        } else {
            at += 1;
        }
    }
    None
}

/// What a document costs, with fragments expanded. All counts saturate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// The deepest selection; a spread and an inline fragment count as a level.
    pub depth: u64,
    /// Fields, fragment spreads and inline fragments.
    pub selections: u64,
    pub aliases: u64,
    pub directives: u64,
    /// Fields at the root of operations (through root-level fragments).
    pub root_fields: u64,
    /// Expensive fields at the root of mutation operations.
    pub expensive: u64,
    /// Work validation does to check that fields can merge: for every selection set, every
    /// field reachable through its inline fragments and fragment spreads (without descending
    /// into sub-selections), weighted by 1 + its argument count. async-graphql compares each
    /// such field once per enclosing selection set, and reports every conflict as an error, so
    /// 900 conflicting fields wrapped in 29 nested inline fragments cost 26,000 comparisons and
    /// errors from 3 KB.
    pub validation: u64,
    /// The weighted fields of this definition's root scope, spreads expanded (what a spread of
    /// a fragment adds to each selection set that reaches it).
    flat: u64,
}

/// One definition's own selections, and the fragments it spreads.
#[derive(Default)]
struct Local<'a> {
    cost: Cost,
    spreads: Vec<Spread<'a>>,
}

struct Spread<'a> {
    fragment: &'a str,
    /// The depth of the spread itself; the fragment's selections sit one level below.
    depth: u64,
    at_root: bool,
    /// How many selection sets reach the spread's fields when checking merges: its own, and
    /// one more per inline fragment it is nested in.
    scopes: u64,
}

impl<'a> Local<'a> {
    /// Walks a selection set with an explicit stack.
    fn of(
        selection_set: &'a SelectionSet,
        directives: usize,
        expensive: &dyn Fn(&str) -> bool,
    ) -> Self {
        let mut local = Local::default();
        local.cost.directives = directives as u64;
        // (set, depth of its items, whether they are at the definition's root, how many inline
        // fragments deep they are within the nearest field or definition)
        let mut stack = vec![(selection_set, 1u64, true, 0u64)];
        while let Some((set, depth, at_root, inline)) = stack.pop() {
            for item in &set.items {
                let c = &mut local.cost;
                c.selections = c.selections.saturating_add(1);
                c.depth = c.depth.max(depth);
                c.directives = c
                    .directives
                    .saturating_add(item.node.directives().len() as u64);
                match &item.node {
                    Selection::Field(field) => {
                        let field = &field.node;
                        let weight = 1 + field.arguments.len() as u64;
                        c.validation = c.validation.saturating_add(weight * (1 + inline));
                        if at_root {
                            c.flat = c.flat.saturating_add(weight);
                        }
                        if field.alias.is_some() {
                            c.aliases += 1;
                        }
                        if at_root {
                            c.root_fields += 1;
                            if expensive(field.name.node.as_str()) {
                                c.expensive += 1;
                            }
                        }
                        if !field.selection_set.node.items.is_empty() {
                            stack.push((&field.selection_set.node, depth + 1, false, 0));
                        }
                    }
                    Selection::InlineFragment(fragment) => {
                        let set = &fragment.node.selection_set.node;
                        stack.push((set, depth + 1, at_root, inline + 1));
                    }
                    Selection::FragmentSpread(spread) => local.spreads.push(Spread {
                        fragment: spread.node.fragment_name.node.as_str(),
                        depth,
                        at_root,
                        scopes: 1 + inline,
                    }),
                }
            }
        }
        local
    }

    /// This definition's cost with every spread replaced by the expanded cost of its fragment.
    /// Spreads of unknown fragments add nothing (validation refuses them).
    fn expanded(&self, fragments: &HashMap<&str, Cost>) -> Cost {
        let mut cost = self.cost;
        for spread in &self.spreads {
            let Some(inner) = fragments.get(spread.fragment) else {
                continue;
            };
            cost.depth = cost.depth.max(spread.depth.saturating_add(inner.depth));
            cost.selections = cost.selections.saturating_add(inner.selections);
            cost.aliases = cost.aliases.saturating_add(inner.aliases);
            cost.directives = cost.directives.saturating_add(inner.directives);
            // The fragment's own definition is validated once, on its own; here its fields are
            // compared again in each selection set that reaches the spread.
            cost.validation = cost
                .validation
                .saturating_add(inner.flat.saturating_mul(spread.scopes));
            if spread.at_root {
                cost.root_fields = cost.root_fields.saturating_add(inner.root_fields);
                cost.expensive = cost.expensive.saturating_add(inner.expensive);
                cost.flat = cost.flat.saturating_add(inner.flat);
            }
        }
        cost
    }
}

impl Cost {
    /// The cost of `document`: every operation's expanded cost, summed (validation visits them
    /// all, whichever one runs), and the largest expanded cost of any fragment definition, since
    /// validation also walks fragments that no operation uses. Validation work is summed over
    /// every definition. Expensive fields count only in mutations.
    pub fn of(document: &ExecutableDocument, expensive: &[String]) -> Result<Cost, Refusal> {
        let is_expensive = |name: &str| expensive.iter().any(|e| e == name);
        let locals: HashMap<&str, Local> = document
            .fragments
            .iter()
            .map(|(name, fragment)| {
                let f = &fragment.node;
                let local = Local::of(&f.selection_set.node, f.directives.len(), &is_expensive);
                (name.as_str(), local)
            })
            .collect();
        let fragments = expand_fragments(&locals)?;

        let mut total = Cost::default();
        for fragment in fragments.values() {
            total.validation = total.validation.saturating_add(fragment.validation);
            total.depth = total.depth.max(fragment.depth);
            total.selections = total.selections.max(fragment.selections);
            total.aliases = total.aliases.max(fragment.aliases);
            total.directives = total.directives.max(fragment.directives);
        }
        let mut operations = Cost::default();
        for (_, operation) in document.operations.iter() {
            let op = &operation.node;
            let directives = op.directives.len()
                + op.variable_definitions
                    .iter()
                    .map(|v| v.node.directives.len())
                    .sum::<usize>();
            let mutation = op.ty == OperationType::Mutation;
            let local = Local::of(&op.selection_set.node, directives, &|name| {
                mutation && is_expensive(name)
            });
            let mut cost = local.expanded(&fragments);
            if !mutation {
                cost.expensive = 0;
            }
            operations.depth = operations.depth.max(cost.depth);
            operations.selections = operations.selections.saturating_add(cost.selections);
            operations.aliases = operations.aliases.saturating_add(cost.aliases);
            operations.directives = operations.directives.saturating_add(cost.directives);
            operations.root_fields = operations.root_fields.saturating_add(cost.root_fields);
            operations.expensive = operations.expensive.saturating_add(cost.expensive);
            operations.validation = operations.validation.saturating_add(cost.validation);
        }
        Ok(Cost {
            depth: total.depth.max(operations.depth),
            selections: total.selections.max(operations.selections),
            aliases: total.aliases.max(operations.aliases),
            directives: total.directives.max(operations.directives),
            root_fields: operations.root_fields,
            expensive: operations.expensive,
            validation: total.validation.saturating_add(operations.validation),
            flat: 0,
        })
    }
}

/// How many representations the document's `_entities` fields resolve, summed over every query
/// operation: each field's `representations` list (inline, from `variables`, or a variable's
/// default), counted as often as the field is reached through root-level inline fragments and
/// fragment spreads. Each fragment is counted once per operation and then multiplied
/// (saturating), so fragments spread twice per level cost nothing to count. Call on a document
/// [`Guard::check`] passed (it has no fragment cycles).
pub fn representations(document: &ExecutableDocument, variables: &Variables) -> u64 {
    let mut total = 0u64;
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        if operation.ty != OperationType::Query {
            continue;
        }
        let mut walk = EntityWalk {
            document,
            variables,
            defaults: operation
                .variable_definitions
                .iter()
                .filter_map(|v| {
                    let v = &v.node;
                    Some((v.name.node.as_str(), &v.default_value.as_ref()?.node))
                })
                .collect(),
            fragments: HashMap::new(),
        };
        total = total.saturating_add(walk.root(&operation.selection_set.node, 0));
    }
    total
}

struct EntityWalk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a ConstValue>,
    fragments: HashMap<&'a str, u64>,
}

impl<'a> EntityWalk<'a> {
    /// The representations one root-level selection set reaches. Only fragment spreads and
    /// inline fragments are followed, each at most [`Limits::max_depth`] deep in a checked
    /// document; `depth` stops the recursion regardless.
    fn root(&mut self, set: &'a SelectionSet, depth: usize) -> u64 {
        if depth > 256 {
            return u64::MAX;
        }
        let mut total = 0u64;
        for item in &set.items {
            let n = match &item.node {
                Selection::Field(field) if field.node.name.node == "_entities" => field
                    .node
                    .get_argument("representations")
                    .map_or(0, |value| {
                        // Variables (the whole list, or inside it) take their values, or defaults.
                        let list = value.node.clone().into_const_with(|name| {
                            let value = self
                                .variables
                                .get(&name)
                                .or_else(|| self.defaults.get(name.as_str()).copied());
                            Ok::<_, std::convert::Infallible>(
                                value.cloned().unwrap_or(ConstValue::Null),
                            )
                        });
                        match list {
                            Ok(ConstValue::List(items)) => items.len() as u64,
                            Ok(ConstValue::Null) => 0,
                            // A single value is coerced to a list of one.
                            _ => 1,
                        }
                    }),
                Selection::Field(_) => 0,
                Selection::InlineFragment(inline) => {
                    self.root(&inline.node.selection_set.node, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.fragments.get(name) {
                        Some(&n) => n,
                        None => {
                            let document = self.document;
                            let n = document.fragments.get(name).map_or(0, |fragment| {
                                self.root(&fragment.node.selection_set.node, depth + 1)
                            });
                            self.fragments.insert(name, n);
                            n
                        }
                    }
                }
            };
            total = total.saturating_add(n);
        }
        total
    }
}

/// Every fragment's expanded cost, each computed once after the fragments it spreads (an
/// iterative depth-first walk of the spread graph). A spread back onto the walk's path is a
/// cycle.
fn expand_fragments<'a>(
    locals: &HashMap<&'a str, Local<'a>>,
) -> Result<HashMap<&'a str, Cost>, Refusal> {
    let mut done: HashMap<&str, Cost> = HashMap::with_capacity(locals.len());
    let mut on_path: HashSet<&str> = HashSet::new();
    for &start in locals.keys() {
        if done.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        on_path.insert(start);
        while let Some((name, next)) = stack.last_mut() {
            let local = &locals[*name];
            if let Some(spread) = local.spreads.get(*next) {
                *next += 1;
                let target = spread.fragment;
                if done.contains_key(target) || !locals.contains_key(target) {
                    continue;
                }
                if !on_path.insert(target) {
                    return Err(Refusal::FragmentCycle(target.to_owned()));
                }
                stack.push((target, 0));
            } else {
                let name = *name;
                done.insert(name, local.expanded(&done));
                on_path.remove(name);
                stack.pop();
            }
        }
    }
    Ok(done)
}

/// Documents from the attacks the guard stops, for its tests and for tests against running
/// services.
#[cfg(any(test, feature = "testing"))]
pub mod samples {
    /// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`, all options on): what
    /// the playground sends first, which every limit must admit.
    pub const INTROSPECTION: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types { ...FullType }
        directives {
          name description isRepeatable locations
          args(includeDeprecated: true) { ...InputValue }
        }
      }
    }
    fragment FullType on __Type {
      kind name description specifiedByURL isOneOf
      fields(includeDeprecated: true) {
        name description
        args(includeDeprecated: true) { ...InputValue }
        type { ...TypeRef }
        isDeprecated deprecationReason
      }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue {
      name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
    }
    fragment TypeRef on __Type {
      kind name
      ofType { kind name ofType { kind name ofType { kind name ofType { kind name
        ofType { kind name ofType { kind name ofType { kind name ofType { kind name
          ofType { kind name ofType { kind name } } } } } } } } } }
    }"#;

    /// `{__typename(x:[[[…]]])}` with `depth` nested lists: 2,000 of them (4 KB) overflowed a
    /// worker thread's stack.
    pub fn nested_value(depth: usize) -> String {
        format!(
            "{{__typename(x:{}{})}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    /// `levels` fragments that each spread the level below twice: 2^levels fields once
    /// expanded, from about 50 bytes a level.
    pub fn fragment_bomb(levels: usize) -> String {
        let mut doc = format!("{{...F{levels}}} fragment F0 on Query{{__typename}}");
        for i in 1..=levels {
            doc.push_str(&format!(
                " fragment F{i} on Query{{...F{} ...F{}}}",
                i - 1,
                i - 1
            ));
        }
        doc
    }
}

#[cfg(test)]
mod tests;
