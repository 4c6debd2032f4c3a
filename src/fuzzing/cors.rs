//! Fuzz entry for the CORS rule loaders (S3 XML, `put-bucket-cors` JSON, the console's array).
//!
//! Input: the text of a rules file (UTF-8, as [`crate::cors::load_rules_file`] requires).
//!
//! Invariants: parsing never panics; a parse error is a format error (XML, JSON or neither),
//! never a rule error; parsed rules either compile, or are refused with the index of a rule that
//! exists and the name of one of its fields; compiled rules allow what they list (every listed
//! origin, with any `*` filled in, for every listed method, as an actual request and as a
//! preflight asking for every listed header); the crossdomain.xml and clientaccesspolicy.xml rendered from them are well-formed.

use bytes::Bytes;
use http::{HeaderValue, Method};

use crate::cors::{
    ActualDecision, CorsPolicy, CorsRule, CorsRulesError, PreflightDecision, parse_rules,
    render_clientaccesspolicy_xml, render_crossdomain_xml,
};

/// The fields a rule error may name: the snake_case keys of [`CorsRule`].
const FIELDS: [&str; 6] =
    ["id", "allowed_origins", "allowed_methods", "allowed_headers", "expose_headers", "max_age_seconds"];

/// Parses the rules in `data`, compiles them and checks the outcome.
pub fn cors(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rules = match parse_rules(text) {
        Ok(rules) => rules,
        Err(error) => {
            let format_error =
                matches!(error, CorsRulesError::Xml(_) | CorsRulesError::Json(_) | CorsRulesError::UnknownFormat);
            assert!(format_error, "a parse error that is not about the format: {error:?}");
            return;
        }
    };
    match CorsPolicy::new(&rules, true) {
        Ok(policy) => {
            check_allows_what_it_lists(&policy, &rules);
            check_well_formed(&render_crossdomain_xml(&rules).0);
            check_well_formed(&render_clientaccesspolicy_xml(&rules).0);
        }
        Err(CorsRulesError::Invalid { index, field, .. }) => {
            assert!(index < rules.len(), "rule {index} refused, of {}", rules.len());
            assert!(FIELDS.contains(&field), "unknown field {field:?}");
        }
        Err(other) => panic!("compiling rules gave {other:?}"),
    }
}

fn check_allows_what_it_lists(policy: &CorsPolicy, rules: &[CorsRule]) {
    for rule in rules {
        let headers = rule.allowed_headers.iter().map(|name| name.replace('*', "x")).collect::<Vec<_>>().join(", ");
        let headers = HeaderValue::from_str(&headers).expect("compiled header names are tokens");
        for origin in &rule.allowed_origins {
            let origin = HeaderValue::from_str(&origin.replace('*', "x")).expect("compiled origins are visible ASCII");
            for name in &rule.allowed_methods {
                let upper = name.to_ascii_uppercase();
                let method = Method::from_bytes(upper.as_bytes()).expect("compiled methods are tokens");
                let actual = policy.actual(&origin, &method);
                assert!(matches!(actual, ActualDecision::Allowed(_)), "{origin:?} {method} is not allowed");
                let requested = HeaderValue::from_str(&upper).expect("compiled methods are tokens");
                let preflight = policy.preflight(&origin, &requested, Some(&headers));
                assert!(matches!(preflight, PreflightDecision::Allowed(_)), "{origin:?} {method} preflight refused");
            }
        }
    }
}

/// Reads the whole document, attributes included; the reader checks that end tags match.
fn check_well_formed(xml: &Bytes) {
    use quick_xml::events::{BytesStart, Event};
    let text = std::str::from_utf8(xml).expect("policy files are UTF-8");
    let mut reader = quick_xml::Reader::from_str(text);
    let attributes = |element: &BytesStart<'_>| {
        for attribute in element.attributes() {
            let attribute = attribute.unwrap_or_else(|e| panic!("bad attribute: {e}\n{text}"));
            attribute.unescape_value().unwrap_or_else(|e| panic!("bad attribute value: {e}\n{text}"));
        }
    };
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(element)) => {
                attributes(&element);
                depth += 1;
            }
            Ok(Event::Empty(element)) => attributes(&element),
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => panic!("ill-formed policy file: {error}\n{text}"),
        }
    }
    assert_eq!(depth, 0, "unclosed elements\n{text}");
}
