//! The configuration-facing shape of a CORS rule and the one error type for reading and
//! validating rules, shared by the TOML configuration, the S3 file formats and the policy.

use std::path::PathBuf;

/// One rule, as in an S3 bucket CORS configuration.
///
/// Deserializable from the server's TOML configuration (`[[cors.rules]]` with the snake_case keys
/// below); every key may be left out, and unknown keys are refused so that a misspelt key is an
/// error rather than a rule that silently allows less than intended.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsRule {
    /// A name for the rule, used only in error messages.
    pub id: Option<String>,
    /// Origins allowed by this rule; each may contain one `*`.
    pub allowed_origins: Vec<String>,
    /// Methods allowed by this rule: GET, HEAD, PUT, POST or DELETE, in any case.
    pub allowed_methods: Vec<String>,
    /// Header names a preflight may ask for; each may contain one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read, in addition to the ones a video player needs.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_seconds: Option<u32>,
}

/// Why CORS rules could not be read or were refused.
#[derive(Debug, thiserror::Error)]
pub enum CorsRulesError {
    /// The rules file could not be read (including when it is not UTF-8).
    #[error("cannot read CORS rules file {}: {source}", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The rules file was read but its content is not valid; `source` says why.
    #[error("CORS rules file {}: {source}", path.display())]
    File {
        /// The file whose content was refused.
        path: PathBuf,
        /// The parse error.
        source: Box<CorsRulesError>,
    },
    /// The text starts with neither `<` (XML) nor `{` or `[` (JSON).
    #[error("CORS rules are neither XML nor JSON: the text must start with '<', '{{' or '['")]
    UnknownFormat,
    /// The text looks like XML but is not an S3 `CORSConfiguration` document.
    #[error("CORS rules XML: {0}")]
    Xml(String),
    /// The text looks like JSON but is not an S3 CORS configuration.
    #[error("CORS rules JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A rule breaks one of the constraints S3 puts on a CORS configuration.
    #[error("rule {index}{}: {field}: {problem}", id_part(.id))]
    Invalid {
        /// Position of the rule, from 0.
        index: usize,
        /// The rule's id, if it has one.
        id: Option<String>,
        /// The snake_case name of the offending field, e.g. `allowed_origins`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

fn id_part(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (id {id:?})"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_are_snake_case_with_defaults() {
        let rule: CorsRule = serde_json::from_str(r#"{"allowed_origins":["*"],"allowed_methods":["GET"]}"#).unwrap();
        assert_eq!(
            rule,
            CorsRule { allowed_origins: vec!["*".into()], allowed_methods: vec!["GET".into()], ..CorsRule::default() }
        );
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let error = serde_json::from_str::<CorsRule>(r#"{"allowed_origin":["*"]}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `allowed_origin`"), "{error}");
    }

    #[test]
    fn invalid_names_rule_and_field() {
        let error = CorsRulesError::Invalid {
            index: 2,
            id: Some("web".into()),
            field: "allowed_origins",
            problem: "\"x\" is wrong".into(),
        };
        assert_eq!(error.to_string(), "rule 2 (id \"web\"): allowed_origins: \"x\" is wrong");
        let error = CorsRulesError::Invalid {
            index: 0,
            id: None,
            field: "allowed_methods",
            problem: "at least one method is required".into(),
        };
        assert_eq!(error.to_string(), "rule 0: allowed_methods: at least one method is required");
    }
}
