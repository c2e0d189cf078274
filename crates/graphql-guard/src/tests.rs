//! The guard against the documents that crashed or stalled the services, adversarial inputs, and
//! a seeded property test comparing it with async-graphql's parser and a naive reference.

use std::collections::HashMap;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

use super::samples::{fragment_bomb, nested_value};
use super::*;

const EXPENSIVE: &[&str] = &["login", "register", "placeOrder"];

fn guard() -> Guard {
    Guard::new(Limits::default(), EXPENSIVE, 100)
}

/// Runs `f` on a thread with a small stack: anything that recursed per nesting level, or per
/// fragment, would overflow it and abort the test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the guard panicked")
}

#[test]
fn finding_1_nested_values_are_refused_before_parsing() {
    for depth in [65, 2_000, 100_000] {
        let result = on_small_stack(move || guard().check(&nested_value(depth)));
        assert_eq!(result.unwrap_err(), Refusal::TooNested { limit: 64 });
    }
    // Every kind of bracket, and mixes of them.
    for open in ["{", "[", "(", "{a(b:[", "[{x:"] {
        let doc = open.repeat(100_000);
        let result = on_small_stack(move || guard().check(&doc));
        assert!(matches!(result, Err(Refusal::TooNested { .. })), "{open}");
    }
    // Within the limit the document is parsed and measured as usual.
    let doc = nested_value(60);
    assert!(on_small_stack(move || guard().check(&doc)).is_ok());
}

#[test]
fn finding_2_fragment_bombs_are_refused_without_expanding() {
    for levels in [10, 22, 24, 64, 1_000] {
        let limits = Limits {
            max_tokens: 100_000,
            ..Limits::default()
        };
        let doc = fragment_bomb(levels);
        let result = on_small_stack(move || Guard::new(limits, EXPENSIVE, 100).check(&doc));
        // Up to 30 levels the expansion is too large; beyond, it is also too deep.
        match result {
            Err(Refusal::TooLarge {
                measure: Measure::Selections,
                found,
                ..
            }) if levels <= 30 => assert!(found > 1_000, "{levels}: {found}"),
            Err(Refusal::TooLarge {
                measure: Measure::Depth,
                ..
            }) if levels > 30 => {}
            other => panic!("{levels} levels: {other:?}"),
        }
    }
    // Two levels are a document like any other.
    assert!(guard().check(&fragment_bomb(2)).is_ok());
}

#[test]
fn finding_3_aliased_expensive_mutations_are_refused() {
    let logins: String = (0..200)
        .map(|i| {
            format!(" a{i}: login(email: \"x@example.com\", password: \"wrong\") {{ accessToken }}")
        })
        .collect();
    let refusal = guard()
        .check(&format!("mutation {{{logins} }}"))
        .unwrap_err();
    assert!(matches!(
        refusal,
        Refusal::TooLarge {
            measure: Measure::Aliases,
            ..
        } | Refusal::TooManyExpensive { .. }
    ));
    // Two logins under the alias limit are still two password hashes: refused.
    let two = "mutation { a: login(email: \"a@x.io\", password: \"p\") { accessToken } \
               b: login(email: \"b@x.io\", password: \"p\") { accessToken } }";
    assert_eq!(
        guard().check(two).unwrap_err().code(),
        ErrorCode::QueryTooComplex
    );
    assert!(matches!(
        guard().check(two).unwrap_err(),
        Refusal::TooManyExpensive { limit: 1, .. }
    ));
    // Hidden in fragments and inline fragments at the root, they still count.
    let hidden = "mutation { ...L ... on Mutation { register(input: {email: \"e\", password: \"p\", name: \"n\"}) { id } } } \
                  fragment L on Mutation { login(email: \"a\", password: \"p\") { accessToken } }";
    assert!(matches!(
        guard().check(hidden).unwrap_err(),
        Refusal::TooManyExpensive { .. }
    ));
    // One is fine, and a query field named like a mutation is not expensive.
    assert!(
        guard()
            .check("mutation { login(email: \"a\", password: \"p\") { accessToken } }")
            .is_ok()
    );
    assert!(guard().check("{ a: login b: login c: register }").is_ok());
}

/// The attacker's 6 KB crash: an unclosed `"""` made the scan skip the rest of the document,
/// while the parser backtracked, read `""` and `" "` as strings, and recursed into the brackets.
/// And thousands of unclosed `"""` made the parser itself quadratic (7.6 s for 64 KB). An
/// unclosed block string is refused, before the parser sees it.
#[test]
fn an_unclosed_block_string_is_refused() {
    let doc = format!(
        "{{__typename(x:[\"\"\" \" {}{}])}}",
        "[".repeat(3_000),
        "]".repeat(3_000)
    );
    let result = on_small_stack(move || guard().check(&doc));
    assert!(matches!(result, Err(Refusal::Syntax(_))), "{result:?}");
    // Closed, the brackets are the string's content and count for nothing.
    let closed = format!("{{__typename(x:[\"\"\" {} \"\"\"])}}", "[".repeat(3_000));
    assert!(guard().check(&closed).is_ok());
    let many = format!(
        "{{__typename(a:[{}])}} #{}",
        "\"\"\"\\\"".repeat(4_990),
        "x".repeat(30_000)
    );
    // Linear, not quadratic, in the quotes: no slower than fifty times a plain document of the
    // same length scanned in this run (and a second's floor), which only a blow-up exceeds.
    let plain = format!("{{__typename}} #{}", "x".repeat(many.len()));
    let started = std::time::Instant::now();
    assert!(guard().check(&plain).is_ok());
    let normal = started.elapsed();
    let started = std::time::Instant::now();
    assert!(matches!(guard().check(&many), Err(Refusal::Syntax(_))));
    let took = started.elapsed();
    assert!(
        took < (normal * 50).max(std::time::Duration::from_secs(1)),
        "{took:?}, {normal:?} for a plain document"
    );
}

#[test]
fn merge_checks_that_multiply_are_refused() {
    let mut doc = String::from("{ me } fragment B on Query { me: __typename");
    doc.push_str(&" me".repeat(900));
    doc.push_str(" }");
    for i in 0..80 {
        doc.push_str(&format!(
            " fragment X{i} on Query {{ {} ...B {} }}",
            "...{ ".repeat(29),
            "}".repeat(29)
        ));
    }
    let limits = Limits {
        max_tokens: 100_000,
        max_selections: 100_000,
        max_depth: 1_000,
        ..Limits::default()
    };
    match Guard::new(limits, EXPENSIVE, 100).check(&doc) {
        Err(Refusal::TooLarge {
            measure: Measure::Validation,
            found,
            ..
        }) => assert!(found > 2_000_000, "{found}"),
        other => panic!("{other:?}"),
    }
    // Without fragments the work is what the document holds: 901 conflicting fields are within
    // the limits (the endpoint caps how many errors an answer lists).
    let plain = format!("{{ me: __typename {} }}", "me ".repeat(900));
    let cost = Cost::of(&parse_query(&plain).unwrap(), &[]).unwrap();
    assert_eq!(cost.validation, 901);
}

#[test]
fn fragment_cycles_are_refused_iteratively() {
    let cycles = [
        "{ ...A } fragment A on Query { ...A }".to_owned(),
        "{ ...A } fragment A on Query { a ...B } fragment B on Query { b { ...A } }".to_owned(),
        // Unused fragments are validated too.
        "{ a } fragment A on Query { ...B } fragment B on Query { ...A }".to_owned(),
    ];
    for doc in cycles {
        assert!(
            matches!(guard().check(&doc), Err(Refusal::FragmentCycle(_))),
            "{doc}"
        );
        assert_eq!(
            guard().check(&doc).unwrap_err().code(),
            ErrorCode::GraphqlValidationFailed
        );
    }
    // A cycle through 5,000 fragments and a chain of 50,000: no recursion, refused.
    let limits = Limits {
        max_tokens: 1_000_000,
        ..Limits::default()
    };
    let mut ring = String::from("{ ...F0 }");
    for i in 0..5_000 {
        ring.push_str(&format!(
            " fragment F{i} on Query {{ ...F{} }}",
            (i + 1) % 5_000
        ));
    }
    let l = limits.clone();
    assert!(matches!(
        on_small_stack(move || Guard::new(l, EXPENSIVE, 100).check(&ring)),
        Err(Refusal::FragmentCycle(_))
    ));
    let mut chain = String::from("{ ...F0 }");
    for i in 0..50_000 {
        chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    chain.push_str(" fragment F50000 on Query { a }");
    match on_small_stack(move || Guard::new(limits, EXPENSIVE, 100).check(&chain)) {
        Err(Refusal::TooLarge {
            measure: Measure::Depth,
            found,
            ..
        }) => assert_eq!(found, 50_002),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unterminated_strings_comments_and_junk_never_panic() {
    let inputs = [
        "\"".repeat(100_000),
        "\"\"\"".repeat(30_000),
        "#".repeat(100_000),
        "\\".repeat(100_000),
        "{ a(b: \"\\".to_owned(),
        "{ a(b: \"\"\"\\\"\"\" [[[[ \"\"\") }".to_owned(),
        "\u{feff}{ a }".to_owned(),
        "{ a(b: \"unterminated\n[[[[[[[[[[".to_owned(),
        "é{ü(x:[[[[ \u{0} ]]]]) }".to_owned(),
        String::new(),
        "...".repeat(10_000),
        "-".repeat(100_000),
    ];
    for input in inputs {
        let _ = on_small_stack(move || guard().check(&input));
    }
}

#[test]
fn brackets_in_strings_block_strings_and_comments_do_not_count() {
    let doc = format!(
        "{{ a(s: \"{0}\", t: \"\"\"{0}\\\"\"\"{0}\"\"\") # {0}\n }}",
        "[".repeat(500)
    );
    let lexed = scan(&doc, &Limits::default()).unwrap();
    assert_eq!(lexed.nesting, 2);
    assert!(guard().check(&doc).is_ok());
}

#[test]
fn syntax_errors_answer_parse_failed() {
    let refusal = guard().check("{ a(").unwrap_err();
    assert!(matches!(refusal, Refusal::Syntax(_)));
    assert_eq!(refusal.code(), ErrorCode::GraphqlParseFailed);
    assert!(guard().check("").is_err());
}

#[test]
fn tokens_are_limited() {
    let doc = format!("{{ {} }}", "a ".repeat(20_000));
    assert_eq!(
        guard().check(&doc).unwrap_err(),
        Refusal::TooManyTokens { limit: 10_000 }
    );
}

#[test]
fn root_fields_aliases_and_directives_are_limited() {
    let roots = format!(
        "{{ {} }}",
        (0..21)
            .map(|i| format!("f{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(matches!(
        guard().check(&roots),
        Err(Refusal::TooLarge {
            measure: Measure::RootFields,
            found: 21,
            ..
        })
    ));
    let aliases = format!(
        "{{ x {{ {} }} }}",
        (0..31)
            .map(|i| format!("a{i}: f"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(matches!(
        guard().check(&aliases),
        Err(Refusal::TooLarge {
            measure: Measure::Aliases,
            found: 31,
            ..
        })
    ));
    let directives = format!("{{ a {} }}", "@skip(if: false) ".repeat(51));
    assert!(matches!(
        guard().check(&directives),
        Err(Refusal::TooLarge {
            measure: Measure::Directives,
            found: 51,
            ..
        })
    ));
    let deep = format!("{}{}", "{ a ".repeat(33), "}".repeat(33));
    assert!(matches!(
        guard().check(&deep),
        Err(Refusal::TooLarge {
            measure: Measure::Depth,
            ..
        })
    ));
}

/// GraphiQL's introspection query (graphql-js `getIntrospectionQuery`, all options on) must pass
/// the defaults, or the playground breaks.
#[test]
fn the_playground_introspection_query_passes() {
    let query = super::samples::INTROSPECTION;
    assert!(guard().check(query).is_ok(), "{:?}", guard().check(query));
    // The defaults leave the playground's introspection well inside every limit.
    let document = parse_query(query).unwrap();
    let cost = Cost::of(&document, &[]).unwrap();
    let limits = Limits::default();
    assert!(cost.selections * 3 < limits.max_selections, "{cost:?}");
    assert!(cost.validation * 3 < limits.max_validation, "{cost:?}");
    assert!(cost.depth * 3 / 2 < limits.max_depth, "{cost:?}");
}

// ---------------------------------------------------------------------------------------------
// Property test: random documents, and random damage to them.

/// A deterministic generator (xorshift), so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "a",
    "b",
    "id",
    "name",
    "user",
    "login",
    "register",
    "placeOrder",
    "me",
    "_x1",
    "on",
    "query",
    "fragment",
    "nullable",
    "trueish",
];

/// Builds a random document as text, tracking the bracket nesting it writes.
struct Writer<'r> {
    rng: &'r mut Rng,
    out: String,
    nesting: usize,
    deepest: usize,
    fragments: usize,
}

impl Writer<'_> {
    fn gap(&mut self) {
        match self.rng.below(10) {
            0 => self.out.push_str(", "),
            1 => self.out.push_str(" # a comment {[(\n"),
            2 => self.out.push('\n'),
            _ => self.out.push(' '),
        }
    }
    fn open(&mut self, bracket: char) {
        self.out.push(bracket);
        self.nesting += 1;
        self.deepest = self.deepest.max(self.nesting);
        self.gap();
    }
    fn close(&mut self, bracket: char) {
        self.gap();
        self.out.push(bracket);
        self.nesting -= 1;
        self.gap();
    }
    fn value(&mut self, budget: u32) {
        match self.rng.below(if budget == 0 { 6 } else { 8 }) {
            0 => self
                .out
                .push_str(&format!("{}", self.rng.below(1000) as i64 - 500)),
            1 => self.out.push_str("1.5e3"),
            2 => self.out.push_str("\"s{[(\\\"\""),
            3 => self.out.push_str("\"\"\"block\n[[ \\\"\"\" \"\"\""),
            4 => self
                .out
                .push_str(self.rng.pick(&["true", "false", "null", "RED", "$v"])),
            5 => self.out.push_str("\"ü\\u00e9\""),
            6 => {
                self.open('[');
                for _ in 0..self.rng.below(3) {
                    // Two strings to the parser (`""` and `" "`) unless a later `"""` closes a
                    // block string here: either way the scan must count what follows right.
                    if self.rng.chance(15) {
                        self.out.push_str("\"\"\" \" ");
                    }
                    self.value(budget - 1);
                    self.gap();
                }
                self.close(']');
            }
            _ => {
                self.open('{');
                for _ in 0..self.rng.below(3) {
                    let name = self.rng.pick(NAMES);
                    self.out.push_str(&format!("{name}: "));
                    self.value(budget - 1);
                    self.gap();
                }
                self.close('}');
            }
        }
    }
    fn arguments(&mut self) {
        if self.rng.chance(30) {
            self.open('(');
            for _ in 0..=self.rng.below(2) {
                let name = self.rng.pick(NAMES);
                self.out.push_str(&format!("{name}: "));
                self.value(3);
                self.gap();
            }
            self.close(')');
        }
    }
    fn directives(&mut self) {
        while self.rng.chance(15) {
            self.out
                .push_str(self.rng.pick(&["@skip", "@include", "@custom"]));
            self.arguments();
            self.gap();
        }
    }
    fn selection_set(&mut self, budget: u32) {
        self.open('{');
        for _ in 0..=self.rng.below(4) {
            match self.rng.below(10) {
                0 if self.fragments > 0 => {
                    let target = self.rng.below(self.fragments as u64 + 1);
                    self.out.push_str(&format!("...F{target}"));
                    self.gap();
                    self.directives();
                }
                1 if budget > 0 => {
                    self.out.push_str("... on Query");
                    self.gap();
                    self.directives();
                    self.selection_set(budget - 1);
                }
                _ => {
                    if self.rng.chance(20) {
                        let alias = self.rng.pick(NAMES);
                        self.out.push_str(&format!("{alias}: "));
                    }
                    let name = self.rng.pick(NAMES);
                    self.out.push_str(name);
                    self.gap();
                    self.arguments();
                    self.directives();
                    if budget > 0 && self.rng.chance(40) {
                        self.selection_set(budget - 1);
                    }
                }
            }
            self.gap();
        }
        self.close('}');
    }
    fn document(rng: &mut Rng) -> (String, usize) {
        let mut w = Writer {
            rng,
            out: String::new(),
            nesting: 0,
            deepest: 0,
            fragments: 0,
        };
        let fragments = w.rng.below(5) as usize;
        for i in 0..fragments {
            w.fragments = i;
            w.out.push_str(&format!("fragment F{i} on Query"));
            w.gap();
            w.directives();
            w.selection_set(3);
            w.gap();
        }
        w.fragments = fragments;
        let operations = 1 + w.rng.below(2);
        for i in 0..operations {
            let ty = w.rng.pick(&["query", "mutation", "subscription"]);
            if operations == 1 && w.rng.chance(30) {
                w.selection_set(4);
            } else {
                w.out.push_str(&format!("{ty} Op{i}"));
                if w.rng.chance(30) {
                    w.open('(');
                    w.out.push_str("$v: [Int!]! = [1]");
                    w.deepest = w.deepest.max(w.nesting + 1);
                    w.gap();
                    w.directives();
                    w.close(')');
                }
                w.gap();
                w.directives();
                w.selection_set(4);
            }
            w.gap();
        }
        (w.out, w.deepest)
    }
}

/// Damages a document: deletes, duplicates or inserts a few bytes.
fn damage(rng: &mut Rng, doc: &str) -> String {
    let mut bytes = doc.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len() as u64) as usize;
        match rng.below(3) {
            0 => {
                let end = (at + 1 + rng.below(8) as usize).min(bytes.len());
                bytes.drain(at..end);
            }
            1 => {
                let end = (at + 1 + rng.below(16) as usize).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                let junk = rng.pick(&[
                    "{", "}", "[", "]", "(", ")", "\"", "\"\"\"", "#", "\\", "\n", "...", ":", "$",
                    "@", "é",
                ]);
                bytes.splice(at..at, junk.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The weighted fields a merge check of `set` compares: through inline fragments and spreads
/// (every spread, no de-duplication: the guard's bound), not into sub-selections.
fn flat_weight(doc: &ExecutableDocument, set: &SelectionSet) -> u64 {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => 1 + field.node.arguments.len() as u64,
            Selection::InlineFragment(inline) => flat_weight(doc, &inline.node.selection_set.node),
            Selection::FragmentSpread(spread) => doc
                .fragments
                .get(spread.node.fragment_name.node.as_str())
                .map_or(0, |f| flat_weight(doc, &f.node.selection_set.node)),
        })
        .sum()
}

/// Merge-check work by definition: every selection set of every definition, flattened.
fn reference_validation(doc: &ExecutableDocument) -> u64 {
    fn sets<'a>(set: &'a SelectionSet, out: &mut Vec<&'a SelectionSet>) {
        out.push(set);
        for item in &set.items {
            match &item.node {
                Selection::Field(field) if !field.node.selection_set.node.items.is_empty() => {
                    sets(&field.node.selection_set.node, out)
                }
                Selection::InlineFragment(inline) => sets(&inline.node.selection_set.node, out),
                _ => {}
            }
        }
    }
    let mut all = Vec::new();
    for fragment in doc.fragments.values() {
        sets(&fragment.node.selection_set.node, &mut all);
    }
    for (_, op) in doc.operations.iter() {
        sets(&op.node.selection_set.node, &mut all);
    }
    all.into_iter().map(|set| flat_weight(doc, set)).sum()
}

/// What async-graphql's OverlappingFieldsCanBeMerged really does: for each selection set, each
/// field reached through inline fragments and each *distinct* fragment once.
fn simulated_merge_checks(doc: &ExecutableDocument) -> u64 {
    fn find<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        visited: &mut std::collections::HashSet<&'a str>,
    ) -> u64 {
        let mut n = 0;
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => n += 1 + field.node.arguments.len() as u64,
                Selection::InlineFragment(inline) => {
                    n += find(doc, &inline.node.selection_set.node, visited)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(f) = doc.fragments.get(name)
                        && visited.insert(name)
                    {
                        n += find(doc, &f.node.selection_set.node, visited);
                    }
                }
            }
        }
        n
    }
    fn each_set<'a>(doc: &'a ExecutableDocument, set: &'a SelectionSet, total: &mut u64) {
        *total += find(doc, set, &mut Default::default());
        for item in &set.items {
            match &item.node {
                Selection::Field(field) if !field.node.selection_set.node.items.is_empty() => {
                    each_set(doc, &field.node.selection_set.node, total)
                }
                Selection::InlineFragment(inline) => {
                    each_set(doc, &inline.node.selection_set.node, total)
                }
                _ => {}
            }
        }
    }
    let mut total = 0;
    for fragment in doc.fragments.values() {
        each_set(doc, &fragment.node.selection_set.node, &mut total);
    }
    for (_, op) in doc.operations.iter() {
        each_set(doc, &op.node.selection_set.node, &mut total);
    }
    total
}

/// How many brackets the parser really had open at once, from the parsed document (an empty
/// `()` of variable definitions leaves no trace, so this can be one less than the text).
fn parsed_nesting(doc: &ExecutableDocument) -> usize {
    use async_graphql::parser::types::{BaseType, Type};
    use async_graphql_value::{ConstValue, Value};
    fn value(v: &Value) -> usize {
        match v {
            Value::List(items) => 1 + items.iter().map(value).max().unwrap_or(0),
            Value::Object(fields) => 1 + fields.values().map(value).max().unwrap_or(0),
            _ => 0,
        }
    }
    fn constant(v: &ConstValue) -> usize {
        match v {
            ConstValue::List(items) => 1 + items.iter().map(constant).max().unwrap_or(0),
            ConstValue::Object(fields) => 1 + fields.values().map(constant).max().unwrap_or(0),
            _ => 0,
        }
    }
    fn ty(t: &Type) -> usize {
        match &t.base {
            BaseType::List(inner) => 1 + ty(inner),
            BaseType::Named(_) => 0,
        }
    }
    fn directives(
        level: usize,
        ds: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> usize {
        ds.iter()
            .filter(|d| !d.node.arguments.is_empty())
            .map(|d| {
                level
                    + 1
                    + d.node
                        .arguments
                        .iter()
                        .map(|(_, v)| value(&v.node))
                        .max()
                        .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
    fn set(level: usize, s: &SelectionSet) -> usize {
        let inner = level + 1;
        let mut deepest = inner;
        for item in &s.items {
            deepest = deepest.max(directives(inner, item.node.directives()));
            match &item.node {
                Selection::Field(field) => {
                    let f = &field.node;
                    if !f.arguments.is_empty() {
                        let args = f
                            .arguments
                            .iter()
                            .map(|(_, v)| value(&v.node))
                            .max()
                            .unwrap_or(0);
                        deepest = deepest.max(inner + 1 + args);
                    }
                    if !f.selection_set.node.items.is_empty() {
                        deepest = deepest.max(set(inner, &f.selection_set.node));
                    }
                }
                Selection::InlineFragment(inline) => {
                    deepest = deepest.max(set(inner, &inline.node.selection_set.node));
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        deepest
    }
    let mut deepest = 0;
    for fragment in doc.fragments.values() {
        deepest = deepest.max(directives(0, &fragment.node.directives));
        deepest = deepest.max(set(0, &fragment.node.selection_set.node));
    }
    for (_, op) in doc.operations.iter() {
        let op = &op.node;
        deepest = deepest.max(directives(0, &op.directives));
        for var in &op.variable_definitions {
            let v = &var.node;
            deepest = deepest.max(1 + ty(&v.var_type.node));
            deepest = deepest.max(directives(1, &v.directives));
            if let Some(default) = &v.default_value {
                deepest = deepest.max(1 + constant(&default.node));
            }
        }
        deepest = deepest.max(set(0, &op.selection_set.node));
    }
    deepest
}

/// The cost by the definition, recursively expanding every spread: fine for the small
/// documents the generator makes, and independent of the guard's memoised computation.
fn reference_cost(document: &ExecutableDocument) -> Result<Cost, Refusal> {
    fn walk(
        doc: &ExecutableDocument,
        set: &SelectionSet,
        depth: u64,
        at_root: bool,
        expensive_here: bool,
        path: &mut Vec<String>,
        cost: &mut Cost,
    ) -> Result<(), Refusal> {
        for item in &set.items {
            cost.selections += 1;
            cost.depth = cost.depth.max(depth);
            cost.directives += item.node.directives().len() as u64;
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    cost.aliases += u64::from(field.alias.is_some());
                    if at_root {
                        cost.root_fields += 1;
                        if expensive_here && EXPENSIVE.contains(&field.name.node.as_str()) {
                            cost.expensive += 1;
                        }
                    }
                    walk(
                        doc,
                        &field.selection_set.node,
                        depth + 1,
                        false,
                        expensive_here,
                        path,
                        cost,
                    )?;
                }
                Selection::InlineFragment(inline) => {
                    walk(
                        doc,
                        &inline.node.selection_set.node,
                        depth + 1,
                        at_root,
                        expensive_here,
                        path,
                        cost,
                    )?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    let Some(fragment) = doc.fragments.get(spread.node.fragment_name.node.as_str())
                    else {
                        continue;
                    };
                    if path.contains(&name) {
                        return Err(Refusal::FragmentCycle(name));
                    }
                    path.push(name);
                    cost.directives += fragment.node.directives.len() as u64;
                    walk(
                        doc,
                        &fragment.node.selection_set.node,
                        depth + 1,
                        at_root,
                        expensive_here,
                        path,
                        cost,
                    )?;
                    path.pop();
                }
            }
        }
        Ok(())
    }
    let mut total = Cost::default();
    for (name, fragment) in &document.fragments {
        let mut cost = Cost {
            directives: fragment.node.directives.len() as u64,
            ..Cost::default()
        };
        let mut path = vec![name.to_string()];
        walk(
            document,
            &fragment.node.selection_set.node,
            1,
            true,
            false,
            &mut path,
            &mut cost,
        )?;
        total.depth = total.depth.max(cost.depth);
        total.selections = total.selections.max(cost.selections);
        total.aliases = total.aliases.max(cost.aliases);
        total.directives = total.directives.max(cost.directives);
    }
    let mut ops = Cost::default();
    for (_, op) in document.operations.iter() {
        let op = &op.node;
        let mut cost = Cost {
            directives: (op.directives.len()
                + op.variable_definitions
                    .iter()
                    .map(|v| v.node.directives.len())
                    .sum::<usize>()) as u64,
            ..Cost::default()
        };
        let mutation = op.ty == OperationType::Mutation;
        walk(
            document,
            &op.selection_set.node,
            1,
            true,
            mutation,
            &mut Vec::new(),
            &mut cost,
        )?;
        ops.depth = ops.depth.max(cost.depth);
        ops.selections += cost.selections;
        ops.aliases += cost.aliases;
        ops.directives += cost.directives;
        ops.root_fields += cost.root_fields;
        ops.expensive += cost.expensive;
    }
    Ok(Cost {
        depth: total.depth.max(ops.depth),
        selections: total.selections.max(ops.selections),
        aliases: total.aliases.max(ops.aliases),
        directives: total.directives.max(ops.directives),
        root_fields: ops.root_fields,
        expensive: ops.expensive,
        validation: reference_validation(document),
        flat: 0,
    })
}

/// What the guard must answer for `source`, derived from async-graphql's parser and the
/// reference cost.
fn expected(source: &str, limits: &Limits) -> Result<(), String> {
    // The scan's own refusals (nesting, tokens, an unclosed block string) come first; when it
    // passes, its nesting is checked against what the parser really opened, below.
    let lexed = scan(source, limits).map_err(|r| kind(&r))?;
    let document = parse_query(source).map_err(|_| "syntax".to_owned())?;
    assert!(
        lexed.nesting >= parsed_nesting(&document),
        "the scan saw {} levels where the parser opened {} in {source:?}",
        lexed.nesting,
        parsed_nesting(&document)
    );
    let cost = reference_cost(&document).map_err(|_| "cycle".to_owned())?;
    assert!(
        cost.validation >= simulated_merge_checks(&document),
        "validation work under-counted for {source:?}"
    );
    assert_eq!(
        Cost::of(
            &document,
            &EXPENSIVE
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>()
        ),
        Ok(cost),
        "memoised cost differs from the reference for {source:?}"
    );
    let guard = Guard::new(limits.clone(), EXPENSIVE, 100);
    guard.within_limits(&cost).map_err(|r| format!("{r:?}"))
}

fn kind(refusal: &Refusal) -> String {
    match refusal {
        Refusal::TooNested { .. } => "nesting".into(),
        Refusal::TooManyTokens { .. } => "tokens".into(),
        Refusal::Syntax(_) => "syntax".into(),
        Refusal::FragmentCycle(_) => "cycle".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn random_documents_agree_with_the_parser_and_the_reference() {
    let seed: u64 = std::env::var("GUARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0F_6A5D);
    let cases: u32 = std::env::var("GUARD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    let mut rng = Rng(seed);
    // Tight limits, so that every limit is hit by some generated documents.
    let tight = Limits {
        max_tokens: 300,
        max_nesting: 9,
        max_depth: 8,
        max_selections: 40,
        max_aliases: 3,
        max_root_fields: 6,
        max_directives: 4,
        max_expensive: 1,
        max_validation: 60,
        max_representations: None,
    };
    let mut outcomes: HashMap<String, u32> = HashMap::new();
    for case in 0..cases {
        let (clean, nesting) = Writer::document(&mut rng);
        let lexed = scan(
            &clean,
            &Limits {
                max_tokens: usize::MAX,
                max_nesting: usize::MAX,
                ..Limits::default()
            },
        );
        // Where the generator wrote an unclosed `"""`, what follows depends on whether a later
        // block string closes it: the parser-based check in `expected` judges those.
        if let (Ok(lexed), false) = (lexed, clean.contains("\"\"\" \" ")) {
            assert_eq!(
                lexed.nesting, nesting,
                "case {case}: nesting miscounted in {clean:?}"
            );
        }
        let damaged = damage(&mut rng, &clean);
        for doc in [clean, damaged] {
            for limits in [Limits::default(), tight.clone()] {
                let want = expected(&doc, &limits);
                let got = Guard::new(limits.clone(), EXPENSIVE, 100)
                    .check(&doc)
                    .map(|_| ())
                    .map_err(|r| kind(&r));
                let agrees = got == want;
                assert!(
                    agrees,
                    "case {case} (seed {seed}): guard {got:?}, expected {want:?} for {doc:?}"
                );
                *outcomes
                    .entry(match &got {
                        Ok(()) => "ok".into(),
                        Err(e) => e.split(' ').next().unwrap_or_default().to_owned(),
                    })
                    .or_default() += 1;
            }
        }
    }
    // The generator must exercise both sides: accepted documents and each kind of refusal.
    for outcome in ["ok", "syntax", "nesting", "tokens"] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) > 0,
            "never saw {outcome}: {outcomes:?}"
        );
    }
    assert!(
        outcomes.keys().any(|k| k.starts_with("TooLarge")),
        "{outcomes:?}"
    );
    assert!(
        outcomes.keys().any(|k| k.starts_with("TooManyExpensive")),
        "{outcomes:?}"
    );
}

/// Attacker finding (cart and orders): 900 representations of one user, each selecting a
/// hundred orders, held 440 MB and starved other requests. Their number is counted however the
/// document gives them.
#[test]
fn representations_are_counted_inline_in_variables_defaults_and_fragments() {
    let count = |query: &str, variables: serde_json::Value| {
        let document = guard().check(query).expect("checked");
        let variables = async_graphql::Variables::from_json(variables);
        representations(&document, &variables)
    };
    let reps = |n: usize| serde_json::json!({ "r": vec![serde_json::json!({"__typename": "User", "id": "1"}); n] });
    let by_variable = "query($r:[_Any!]!){_entities(representations:$r){__typename}}";
    assert_eq!(count(by_variable, reps(7)), 7);
    assert_eq!(
        count(by_variable, serde_json::json!({})),
        0,
        "no list, nothing to resolve"
    );
    assert_eq!(
        count(
            r#"{_entities(representations:[{__typename:"User",id:"1"},{__typename:"User",id:"2"}]){__typename}}"#,
            serde_json::json!({})
        ),
        2
    );
    assert_eq!(
        count(
            r#"query($r:[_Any!]! = [{__typename:"User",id:"1"}]){_entities(representations:$r){__typename}}"#,
            serde_json::json!({})
        ),
        1,
        "a variable's default"
    );
    // Aliases, inline fragments and fragments spread twice per level all multiply.
    let doubled = "query($r:[_Any!]!){...F2} fragment F2 on Query{...F1 ...F1} \
                   fragment F1 on Query{a:_entities(representations:$r){__typename} \
                   ... on Query{b:_entities(representations:$r){__typename}}}";
    assert_eq!(count(doubled, reps(5)), 20);
    // Mutations resolve no entities.
    assert_eq!(count("mutation{__typename}", serde_json::json!({})), 0);
}

#[test]
fn more_representations_than_the_limit_are_refused() {
    let query = "query($r:[_Any!]!){_entities(representations:$r){__typename}}";
    let document = guard().check(query).unwrap();
    let reps = |n: usize| {
        async_graphql::Variables::from_json(serde_json::json!({
            "r": vec![serde_json::json!({"__typename": "User", "id": "1"}); n]
        }))
    };
    assert_eq!(guard().check_representations(&document, &reps(100)), Ok(()));
    assert_eq!(
        guard().check_representations(&document, &reps(101)),
        Err(Refusal::TooLarge {
            measure: Measure::Representations,
            found: 101,
            limit: 100
        })
    );
    // The environment's limit wins over the service's.
    let limits = Limits {
        max_representations: Some(3),
        ..Limits::default()
    };
    let guard = Guard::new(limits, EXPENSIVE, 1_000);
    assert!(guard.check_representations(&document, &reps(4)).is_err());
}
