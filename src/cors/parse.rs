//! Reads CORS rules in the forms S3 hands them out (the XML of a bucket's CORS configuration,
//! the JSON of `aws s3api put-bucket-cors`, the bare array of the S3 console), so that a bucket's
//! rules can be moved to the origin without rewriting them.

use std::path::Path;

use serde::Deserialize;

use super::parse_xml::parse_xml;
use super::rule::{CorsRule, CorsRulesError};

/// Reads rules from XML (`<CORSConfiguration>`), from `{"CORSRules": [...]}` or from a bare
/// `[...]` of rules, choosing by the first non-whitespace character. A leading BOM is ignored.
pub fn parse_rules(text: &str) -> Result<Vec<CorsRule>, CorsRulesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.trim_start().chars().next() {
        Some('<') => parse_xml(text),
        Some('{') => Ok(from_json(serde_json::from_str::<JsonConfiguration>(text)?.rules)),
        Some('[') => Ok(from_json(serde_json::from_str(text)?)),
        _ => Err(CorsRulesError::UnknownFormat),
    }
}

/// [`parse_rules`] on the content of a file; errors carry the path.
pub fn load_rules_file(path: &Path) -> Result<Vec<CorsRule>, CorsRulesError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorsRulesError::Io { path: path.to_owned(), source })?;
    parse_rules(&text).map_err(|source| CorsRulesError::File { path: path.to_owned(), source: Box::new(source) })
}

fn from_json(rules: Vec<JsonRule>) -> Vec<CorsRule> {
    rules.into_iter().map(Into::into).collect()
}

/// `{"CORSRules": [...]}`, as given to and returned by the AWS CLI.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConfiguration {
    #[serde(rename = "CORSRules")]
    rules: Vec<JsonRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct JsonRule {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    allowed_methods: Vec<String>,
    #[serde(default)]
    allowed_headers: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    #[serde(default)]
    max_age_seconds: Option<u32>,
}

impl From<JsonRule> for CorsRule {
    fn from(rule: JsonRule) -> Self {
        CorsRule {
            id: rule.id,
            allowed_origins: rule.allowed_origins,
            allowed_methods: rule.allowed_methods,
            allowed_headers: rule.allowed_headers,
            expose_headers: rule.expose_headers,
            max_age_seconds: rule.max_age_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example configuration of the S3 user guide, with IDs added.
    const XML: &str = r#"<CORSConfiguration>
 <CORSRule>
   <ID>example1</ID>
   <AllowedOrigin>http://www.example1.com</AllowedOrigin>

   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>

   <AllowedHeader>*</AllowedHeader>
 </CORSRule>
 <CORSRule>
   <ID>example2</ID>
   <AllowedOrigin>http://www.example2.com</AllowedOrigin>

   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>

   <AllowedHeader>*</AllowedHeader>
   <MaxAgeSeconds>3000</MaxAgeSeconds>
   <ExposeHeader>x-amz-server-side-encryption</ExposeHeader>
   <ExposeHeader>x-amz-request-id</ExposeHeader>
   <ExposeHeader>x-amz-id-2</ExposeHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>*</AllowedOrigin>
   <AllowedMethod>GET</AllowedMethod>
 </CORSRule>
</CORSConfiguration>
"#;

    const JSON_RULES: &str = r#"[
  {
    "ID": "example1",
    "AllowedOrigins": ["http://www.example1.com"],
    "AllowedMethods": ["PUT", "POST", "DELETE"],
    "AllowedHeaders": ["*"]
  },
  {
    "ID": "example2",
    "AllowedOrigins": ["http://www.example2.com"],
    "AllowedMethods": ["PUT", "POST", "DELETE"],
    "AllowedHeaders": ["*"],
    "MaxAgeSeconds": 3000,
    "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"]
  },
  {
    "AllowedOrigins": ["*"],
    "AllowedMethods": ["GET"]
  }
]"#;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn expected() -> Vec<CorsRule> {
        let write = strings(&["PUT", "POST", "DELETE"]);
        vec![
            CorsRule {
                id: Some("example1".into()),
                allowed_origins: strings(&["http://www.example1.com"]),
                allowed_methods: write.clone(),
                allowed_headers: strings(&["*"]),
                ..CorsRule::default()
            },
            CorsRule {
                id: Some("example2".into()),
                allowed_origins: strings(&["http://www.example2.com"]),
                allowed_methods: write,
                allowed_headers: strings(&["*"]),
                expose_headers: strings(&["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"]),
                max_age_seconds: Some(3000),
            },
            CorsRule { allowed_origins: strings(&["*"]), allowed_methods: strings(&["GET"]), ..CorsRule::default() },
        ]
    }

    #[test]
    fn s3_xml() {
        assert_eq!(parse_rules(XML).unwrap(), expected());
    }

    #[test]
    fn s3_xml_with_namespace_declaration_and_bom() {
        let xml =
            XML.replace("<CORSConfiguration>", "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        let xml = format!("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}");
        assert_eq!(parse_rules(&xml).unwrap(), expected());
    }

    #[test]
    fn put_bucket_cors_json_and_console_array() {
        let wrapped = format!("  {{\"CORSRules\": {JSON_RULES}}}\n");
        assert_eq!(parse_rules(&wrapped).unwrap(), expected());
        assert_eq!(parse_rules(JSON_RULES).unwrap(), expected());
        assert_eq!(parse_rules(&format!("\u{feff}\n{JSON_RULES}")).unwrap(), expected());
    }

    #[test]
    fn garbage_is_refused() {
        let cases = [
            ("", "neither XML nor JSON"),
            ("AllowedOrigin: *", "neither XML nor JSON"),
            ("<html><body/></html>", "root element is <html>"),
            ("<CORSConfiguration><CORSRule>", "CORS rules XML"),
            ("{\"CORSRules\": [{\"AllowedOrigin\": [\"*\"]}]}", "unknown field `AllowedOrigin`"),
            ("{\"Rules\": []}", "unknown field `Rules`"),
            ("[{\"AllowedOrigins\": \"*\"}]", "CORS rules JSON"),
            ("[", "CORS rules JSON"),
        ];
        for (text, expected) in cases {
            let error = parse_rules(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn files_and_their_errors_carry_the_path() {
        let dir = std::env::temp_dir().join(format!("cors-parse-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("cors.xml");
        std::fs::write(&good, XML).unwrap();
        assert_eq!(load_rules_file(&good).unwrap(), expected());

        let bad = dir.join("cors.json");
        std::fs::write(&bad, "{").unwrap();
        let error = load_rules_file(&bad).unwrap_err();
        assert!(matches!(&error, CorsRulesError::File { path, .. } if *path == bad), "{error:?}");
        assert!(error.to_string().contains("cors.json: CORS rules JSON"), "{error}");

        let missing = dir.join("missing.xml");
        let error = load_rules_file(&missing).unwrap_err();
        assert!(matches!(&error, CorsRulesError::Io { path, .. } if *path == missing), "{error:?}");
        assert!(error.to_string().contains("missing.xml"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
