//! Flash's crossdomain.xml and Silverlight's clientaccesspolicy.xml, rendered once from the CORS
//! rules so that plugin-based players get the same cross-origin access as browsers.

use std::fmt::Write as _;

use bytes::Bytes;

use super::policy_origin::PolicyOrigin;
use super::rule::CorsRule;

/// Flash's crossdomain.xml, allowing the origins of the rules that allow GET, plus warnings
/// naming the origins that Flash's syntax cannot express (those are left out).
///
/// Flash matches hosts only, so ports are dropped. `secure="true"` (only HTTPS-served movies)
/// is written when the origin is https; http origins, `*` and scheme-less wildcards can all be
/// reached from plain http, so they get `secure="false"`.
pub fn render_crossdomain_xml(rules: &[CorsRule]) -> (Bytes, Vec<String>) {
    // (domain, secure), in order of first appearance; a domain allowed both with and without
    // TLS is written once, with the wider secure="false".
    let mut entries: Vec<(String, bool)> = Vec::new();
    let warnings = each_get_origin(rules, "crossdomain.xml", |origin| {
        let (domain, secure) = match origin {
            PolicyOrigin::Any => ("*".to_owned(), false),
            PolicyOrigin::Host { scheme, host, .. } => (host, scheme == Some("https")),
        };
        match entries.iter_mut().find(|(known, _)| *known == domain) {
            Some((_, known_secure)) => *known_secure &= secure,
            None => entries.push((domain, secure)),
        }
    });

    let mut xml = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE cross-domain-policy SYSTEM ",
        "\"http://www.adobe.com/xml/dtds/cross-domain-policy.dtd\">\n",
        "<cross-domain-policy>\n",
        "  <site-control permitted-cross-domain-policies=\"master-only\"/>\n",
    ));
    for (domain, secure) in &entries {
        let domain = escape(domain);
        // Writing to a String cannot fail.
        let _ = writeln!(xml, "  <allow-access-from domain=\"{domain}\" secure=\"{secure}\"/>");
    }
    xml.push_str("</cross-domain-policy>\n");
    (Bytes::from(xml), warnings)
}

/// Silverlight's clientaccesspolicy.xml, allowing the origins of the rules that allow GET, plus
/// warnings naming the origins it cannot express (those are left out).
///
/// A scheme-less wildcard such as `*.example.com` matches both http and https origins, so it
/// becomes one entry per scheme.
pub fn render_clientaccesspolicy_xml(rules: &[CorsRule]) -> (Bytes, Vec<String>) {
    let mut uris: Vec<String> = Vec::new();
    let warnings = each_get_origin(rules, "clientaccesspolicy.xml", |origin| {
        let new: Vec<String> = match origin {
            PolicyOrigin::Any => vec!["*".to_owned()],
            PolicyOrigin::Host { scheme, host, port } => {
                let port = port.map(|port| format!(":{port}")).unwrap_or_default();
                let schemes = match scheme {
                    Some(scheme) => vec![scheme],
                    None => vec!["http", "https"],
                };
                schemes.into_iter().map(|scheme| format!("{scheme}://{host}{port}")).collect()
            }
        };
        for uri in new {
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
    });

    let mut xml = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<access-policy>\n",
        "  <cross-domain-access>\n",
        "    <policy>\n",
        "      <allow-from http-request-headers=\"*\">\n",
    ));
    for uri in &uris {
        let _ = writeln!(xml, "        <domain uri=\"{}\"/>", escape(uri));
    }
    xml.push_str(concat!(
        "      </allow-from>\n",
        "      <grant-to>\n",
        "        <resource path=\"/\" include-subpaths=\"true\"/>\n",
        "      </grant-to>\n",
        "    </policy>\n",
        "  </cross-domain-access>\n",
        "</access-policy>\n",
    ));
    (Bytes::from(xml), warnings)
}

/// Calls `add` for every origin of every rule that allows GET, and returns one warning per
/// distinct origin that cannot be expressed.
fn each_get_origin<'a>(rules: &'a [CorsRule], file: &str, mut add: impl FnMut(PolicyOrigin<'a>)) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut skipped: Vec<&str> = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        if !rule.allowed_methods.iter().any(|method| method.eq_ignore_ascii_case("GET")) {
            continue;
        }
        for origin in &rule.allowed_origins {
            match PolicyOrigin::parse(origin) {
                Ok(origin) => add(origin),
                Err(reason) if !skipped.contains(&origin.as_str()) => {
                    skipped.push(origin);
                    let id = rule.id.as_ref().map(|id| format!(" (id {id:?})")).unwrap_or_default();
                    warnings.push(format!("{file}: left out AllowedOrigin {origin:?} of rule {index}{id}: {reason}"));
                }
                Err(_) => {}
            }
        }
    }
    warnings
}

fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: Option<&str>, origins: &[&str], methods: &[&str]) -> CorsRule {
        CorsRule {
            id: id.map(str::to_owned),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    fn rules() -> Vec<CorsRule> {
        vec![
            rule(
                None,
                &["https://*.example.com", "http://a.example.com:8080", "https://A.example.com"],
                &["GET", "HEAD"],
            ),
            rule(Some("upload"), &["https://upload.example.com"], &["PUT"]),
            rule(Some("players"), &["https://a.*.example.com", "http://a.example.com", "*.example.org", "*"], &["get"]),
            rule(None, &["https://a.*.example.com", "null"], &["GET"]),
        ]
    }

    #[test]
    fn crossdomain_xml() {
        let (xml, warnings) = render_crossdomain_xml(&rules());
        assert_eq!(
            std::str::from_utf8(&xml).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="master-only"/>
  <allow-access-from domain="*.example.com" secure="true"/>
  <allow-access-from domain="a.example.com" secure="false"/>
  <allow-access-from domain="*.example.org" secure="false"/>
  <allow-access-from domain="*" secure="false"/>
</cross-domain-policy>
"#
        );
        assert_eq!(
            warnings,
            [
                "crossdomain.xml: left out AllowedOrigin \"https://a.*.example.com\" of rule 2 \
                 (id \"players\"): a wildcard can only be \"*\" alone or a leading \"*.\" of the host",
                "crossdomain.xml: left out AllowedOrigin \"null\" of rule 3: \
                 it has no scheme, so no browser origin matches it",
            ]
        );
    }

    #[test]
    fn clientaccesspolicy_xml() {
        let (xml, warnings) = render_clientaccesspolicy_xml(&rules());
        assert_eq!(
            std::str::from_utf8(&xml).unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?>
<access-policy>
  <cross-domain-access>
    <policy>
      <allow-from http-request-headers="*">
        <domain uri="https://*.example.com"/>
        <domain uri="http://a.example.com:8080"/>
        <domain uri="https://a.example.com"/>
        <domain uri="http://a.example.com"/>
        <domain uri="http://*.example.org"/>
        <domain uri="https://*.example.org"/>
        <domain uri="*"/>
      </allow-from>
      <grant-to>
        <resource path="/" include-subpaths="true"/>
      </grant-to>
    </policy>
  </cross-domain-access>
</access-policy>
"#
        );
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].starts_with("clientaccesspolicy.xml: left out AllowedOrigin \"https://a.*"));
    }

    #[test]
    fn no_get_rules_allow_nobody_and_values_are_escaped() {
        let (xml, warnings) = render_crossdomain_xml(&[rule(None, &["*"], &["PUT"])]);
        assert!(warnings.is_empty());
        assert!(!std::str::from_utf8(&xml).unwrap().contains("allow-access-from"));
        let (xml, _) = render_clientaccesspolicy_xml(&[]);
        assert!(!std::str::from_utf8(&xml).unwrap().contains("<domain"));

        let odd = [rule(None, &["https://a&b'.example.com"], &["GET"])];
        let (xml, _) = render_crossdomain_xml(&odd);
        assert!(std::str::from_utf8(&xml).unwrap().contains(r#"domain="a&amp;b&apos;.example.com""#));
        let (xml, _) = render_clientaccesspolicy_xml(&odd);
        assert!(std::str::from_utf8(&xml).unwrap().contains(r#"uri="https://a&amp;b&apos;.example.com""#));
    }
}
