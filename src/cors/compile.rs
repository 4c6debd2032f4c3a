//! Checks each rule the way S3 checks a CORS configuration when it is put, and turns it into the
//! matchers and pre-rendered header values that the request path uses.

use http::HeaderValue;

use super::method::{MethodSet, S3Method};
use super::pattern::Pattern;
use super::rule::{CorsRule, CorsRulesError};

/// Headers a video player reads from cross-origin responses (to seek, show progress and
/// revalidate), exposed on every allowed response in addition to the rule's own.
const PLAYER_EXPOSE_HEADERS: [&str; 4] = ["Content-Range", "Accept-Ranges", "Content-Length", "ETag"];

/// A validated rule, ready for matching.
#[derive(Debug, Clone)]
pub(super) struct CompiledRule {
    origins: Vec<Pattern>,
    /// The rule's methods, plus HEAD wherever GET is allowed: players HEAD what they may GET.
    methods: MethodSet,
    headers: Vec<Pattern>,
    /// The rule's own methods joined with ", ", for Access-Control-Allow-Methods.
    pub(super) allow_methods: HeaderValue,
    /// The rule's ExposeHeaders followed by [`PLAYER_EXPOSE_HEADERS`], without duplicates.
    pub(super) expose_headers: HeaderValue,
    pub(super) max_age: Option<HeaderValue>,
}

impl CompiledRule {
    pub(super) fn compile(index: usize, rule: &CorsRule) -> Result<Self, CorsRulesError> {
        let invalid =
            |(field, problem): Problem| CorsRulesError::Invalid { index, id: rule.id.clone(), field, problem };
        let origins = origins(rule).map_err(invalid)?;
        let (methods, allow_methods) = methods(rule).map_err(invalid)?;
        let headers = headers(rule).map_err(invalid)?;
        let expose_headers = expose_headers(rule).map_err(invalid)?;
        Ok(CompiledRule {
            origins,
            methods,
            headers,
            allow_methods,
            expose_headers,
            max_age: rule.max_age_seconds.map(HeaderValue::from),
        })
    }

    /// The first of the rule's AllowedOrigin patterns that matches `origin`.
    pub(super) fn match_origin(&self, origin: &[u8]) -> Option<&Pattern> {
        self.origins.iter().find(|pattern| pattern.matches(origin))
    }

    pub(super) fn allows_method(&self, method: S3Method) -> bool {
        self.methods.contains(method)
    }

    pub(super) fn allows_header(&self, name: &str) -> bool {
        self.headers.iter().any(|pattern| pattern.matches(name.as_bytes()))
    }
}

/// A `tchar` of RFC 9110: the characters of a header name or method token.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What is wrong with a rule: the field, and the problem.
type Problem = (&'static str, String);

/// AllowedOrigin: at least one, each a serialised origin with at most one wildcard.
fn origins(rule: &CorsRule) -> Result<Vec<Pattern>, Problem> {
    if rule.allowed_origins.is_empty() {
        return Err(("allowed_origins", "at least one origin is required".into()));
    }
    let mut origins = Vec::with_capacity(rule.allowed_origins.len());
    for origin in &rule.allowed_origins {
        // An Origin header is a serialised origin: visible ASCII, never empty or spaced.
        if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(("allowed_origins", format!("{origin:?} is not an origin (visible ASCII, no spaces)")));
        }
        origins.push(Pattern::parse(origin).map_err(|_| ("allowed_origins", too_many_wildcards(origin)))?);
    }
    Ok(origins)
}

/// AllowedMethod: at least one of S3's five; GET allows HEAD too. Also the rendered
/// `Access-Control-Allow-Methods`, each method once.
fn methods(rule: &CorsRule) -> Result<(MethodSet, HeaderValue), Problem> {
    if rule.allowed_methods.is_empty() {
        return Err(("allowed_methods", "at least one method is required".into()));
    }
    let mut declared = MethodSet::default();
    let mut listed = Vec::with_capacity(rule.allowed_methods.len());
    for name in &rule.allowed_methods {
        let Some(method) = S3Method::from_rule(name) else {
            return Err(("allowed_methods", format!("{name:?} is not one of GET, HEAD, PUT, POST, DELETE")));
        };
        // A repeated method is harmless; list it once in Access-Control-Allow-Methods.
        if declared.insert(method) {
            listed.push(method.as_str());
        }
    }
    let mut methods = declared;
    if declared.contains(S3Method::Get) {
        methods.insert(S3Method::Head);
    }
    // Tokens joined by ", " always render; the error arm only keeps this free of panics.
    let allow = HeaderValue::from_str(&listed.join(", ")).map_err(|e| ("allowed_methods", e.to_string()))?;
    Ok((methods, allow))
}

/// AllowedHeader: header names, each with at most one wildcard.
fn headers(rule: &CorsRule) -> Result<Vec<Pattern>, Problem> {
    let mut headers = Vec::with_capacity(rule.allowed_headers.len());
    for name in &rule.allowed_headers {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(("allowed_headers", not_a_header_name(name)));
        }
        headers.push(Pattern::parse(name).map_err(|_| ("allowed_headers", too_many_wildcards(name)))?);
    }
    Ok(headers)
}

/// ExposeHeader: header names without wildcards, then the ones players need, each once, rendered
/// as `Access-Control-Expose-Headers`.
fn expose_headers(rule: &CorsRule) -> Result<HeaderValue, Problem> {
    let mut exposed: Vec<&str> = Vec::new();
    for name in &rule.expose_headers {
        if name.contains('*') {
            return Err(("expose_headers", format!("{name:?} contains '*'; ExposeHeader takes no wildcards")));
        }
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(("expose_headers", not_a_header_name(name)));
        }
        push_unique(&mut exposed, name);
    }
    for name in PLAYER_EXPOSE_HEADERS {
        push_unique(&mut exposed, name);
    }
    // Tokens joined by ", " always render; the error arm only keeps this free of panics.
    HeaderValue::from_str(&exposed.join(", ")).map_err(|e| ("expose_headers", e.to_string()))
}

fn push_unique<'a>(names: &mut Vec<&'a str>, name: &'a str) {
    if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
        names.push(name);
    }
}

fn too_many_wildcards(entry: &str) -> String {
    format!("{entry:?} has more than one '*'")
}

fn not_a_header_name(name: &str) -> String {
    format!("{name:?} is not a valid header name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    fn error(index: usize, rule: CorsRule) -> String {
        CompiledRule::compile(index, &rule).unwrap_err().to_string()
    }

    #[test]
    fn renders_methods_expose_headers_and_max_age() {
        let mut r = rule(&["*"], &["get", "Put", "GET"]);
        r.expose_headers = vec!["x-amz-request-id".into(), "etag".into()];
        r.max_age_seconds = Some(3000);
        let compiled = CompiledRule::compile(0, &r).unwrap();
        assert_eq!(compiled.allow_methods, "GET, PUT");
        assert_eq!(compiled.expose_headers, "x-amz-request-id, etag, Content-Range, Accept-Ranges, Content-Length");
        assert_eq!(compiled.max_age, Some(HeaderValue::from_static("3000")));
        assert!(compiled.allows_method(S3Method::Head), "HEAD follows GET");
        assert!(!compiled.allows_method(S3Method::Delete));

        let compiled = CompiledRule::compile(0, &rule(&["*"], &["PUT"])).unwrap();
        assert_eq!(compiled.expose_headers, "Content-Range, Accept-Ranges, Content-Length, ETag");
        assert!(!compiled.allows_method(S3Method::Head));
        assert_eq!(compiled.max_age, None);
    }

    #[test]
    fn errors_name_rule_and_field() {
        let mut web = rule(&["https://*.*.example.com"], &["GET"]);
        web.id = Some("web".into());
        assert_eq!(
            error(2, web),
            "rule 2 (id \"web\"): allowed_origins: \"https://*.*.example.com\" has more than one '*'"
        );
        assert_eq!(error(0, rule(&[], &["GET"])), "rule 0: allowed_origins: at least one origin is required");
        assert_eq!(error(1, rule(&["*"], &[])), "rule 1: allowed_methods: at least one method is required");
        assert_eq!(
            error(0, rule(&["*"], &["GET", "PATCH"])),
            "rule 0: allowed_methods: \"PATCH\" is not one of GET, HEAD, PUT, POST, DELETE"
        );
        assert_eq!(
            error(0, rule(&["https://a.com "], &["GET"])),
            "rule 0: allowed_origins: \"https://a.com \" is not an origin (visible ASCII, no spaces)"
        );
        assert_eq!(
            error(0, rule(&[""], &["GET"])),
            "rule 0: allowed_origins: \"\" is not an origin (visible ASCII, no spaces)"
        );

        let mut headers = rule(&["*"], &["GET"]);
        headers.allowed_headers = vec!["x-*-*".into()];
        assert_eq!(error(0, headers.clone()), "rule 0: allowed_headers: \"x-*-*\" has more than one '*'");
        headers.allowed_headers = vec!["x y".into()];
        assert_eq!(error(0, headers), "rule 0: allowed_headers: \"x y\" is not a valid header name");

        let mut expose = rule(&["*"], &["GET"]);
        expose.expose_headers = vec!["x-amz-*".into()];
        assert_eq!(
            error(0, expose.clone()),
            "rule 0: expose_headers: \"x-amz-*\" contains '*'; ExposeHeader takes no wildcards"
        );
        expose.expose_headers = vec!["x:y".into()];
        assert_eq!(error(0, expose), "rule 0: expose_headers: \"x:y\" is not a valid header name");
    }

    #[test]
    fn header_patterns() {
        let mut r = rule(&["*"], &["GET"]);
        r.allowed_headers = vec!["x-amz-*".into(), "Range".into()];
        let compiled = CompiledRule::compile(0, &r).unwrap();
        assert!(compiled.allows_header("x-amz-date"));
        assert!(compiled.allows_header("range"));
        assert!(!compiled.allows_header("authorization"));
        assert!(compiled.match_origin(b"null").is_some_and(Pattern::is_any));
    }
}
