//! Reads the XML of an S3 bucket CORS configuration. The document is walked element by element
//! rather than derived, so that repeated elements may be interleaved in any order and any
//! namespace attributes are ignored, while unknown elements are still refused as S3 refuses them.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::rule::{CorsRule, CorsRulesError};

/// Reads `<CORSConfiguration>` with its `<CORSRule>` children.
pub(super) fn parse_xml(text: &str) -> Result<Vec<CorsRule>, CorsRulesError> {
    // The deserializer does not look at the root element's name, so check it here: a document
    // that is some other XML must not quietly become an empty rule set.
    let root = root_element(text)?;
    if root != "CORSConfiguration" {
        return Err(CorsRulesError::Xml(format!("the root element is <{root}>, not <CORSConfiguration>")));
    }
    let configuration: Configuration = quick_xml::de::from_str(text).map_err(|e| CorsRulesError::Xml(e.to_string()))?;
    Ok(configuration.0)
}

/// The local name (without namespace prefix) of the first element.
fn root_element(text: &str) -> Result<String, CorsRulesError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(element) | Event::Empty(element)) => {
                return Ok(String::from_utf8_lossy(element.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return Err(CorsRulesError::Xml("no root element".into())),
            Ok(_) => {}
            Err(e) => return Err(CorsRulesError::Xml(e.to_string())),
        }
    }
}

struct Configuration(Vec<CorsRule>);

impl<'de> Deserialize<'de> for Configuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConfigurationVisitor)
    }
}

struct ConfigurationVisitor;

impl<'de> Visitor<'de> for ConfigurationVisitor {
    type Value = Configuration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a <CORSConfiguration> element")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Configuration, A::Error> {
        let mut rules = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "CORSRule" => rules.push(map.next_value::<Rule>()?.0),
                other => skip_attribute(&mut map, other, "CORSConfiguration")?,
            }
        }
        Ok(Configuration(rules))
    }
}

struct Rule(CorsRule);

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RuleVisitor)
    }
}

struct RuleVisitor;

impl<'de> Visitor<'de> for RuleVisitor {
    type Value = Rule;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a <CORSRule> element")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rule, A::Error> {
        let mut rule = CorsRule::default();
        while let Some(key) = map.next_key::<String>()? {
            // Each element is read on its own, so lists may be split up and interleaved.
            match key.as_str() {
                "ID" => set_once(&mut rule.id, map.next_value()?, "ID")?,
                "AllowedOrigin" => rule.allowed_origins.push(map.next_value()?),
                "AllowedMethod" => rule.allowed_methods.push(map.next_value()?),
                "AllowedHeader" => rule.allowed_headers.push(map.next_value()?),
                "ExposeHeader" => rule.expose_headers.push(map.next_value()?),
                "MaxAgeSeconds" => set_once(&mut rule.max_age_seconds, map.next_value()?, "MaxAgeSeconds")?,
                other => skip_attribute(&mut map, other, "CORSRule")?,
            }
        }
        Ok(Rule(rule))
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T, element: &str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format!("<{element}> appears more than once in a <CORSRule>")));
    }
    *slot = Some(value);
    Ok(())
}

/// Skips an attribute (the deserializer names them `@name`, namespace declarations included);
/// anything else is an element or text that has no place in `parent`.
fn skip_attribute<'de, A: MapAccess<'de>>(map: &mut A, key: &str, parent: &str) -> Result<(), A::Error> {
    if key.starts_with('@') {
        map.next_value::<IgnoredAny>()?;
        return Ok(());
    }
    Err(de::Error::custom(match key {
        "$text" | "$value" => format!("unexpected text in <{parent}>"),
        element => format!("unexpected element <{element}> in <{parent}>"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<CorsRule>, String> {
        parse_xml(text).map_err(|e| e.to_string())
    }

    #[test]
    fn interleaved_lists_prefixes_attributes_and_entities() {
        let rules = parse(
            r#"<s3:CORSConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" xmlns:xsi="x">
                 <!-- players -->
                 <s3:CORSRule a="b">
                   <s3:AllowedOrigin>https://a.example.com</s3:AllowedOrigin>
                   <s3:AllowedMethod>GET</s3:AllowedMethod>
                   <s3:AllowedOrigin>https://b.example.com?x=1&amp;y=2</s3:AllowedOrigin>
                   <s3:MaxAgeSeconds> 60 </s3:MaxAgeSeconds>
                   <s3:AllowedMethod>HEAD</s3:AllowedMethod>
                 </s3:CORSRule>
                 <s3:CORSRule/>
               </s3:CORSConfiguration>"#,
        )
        .unwrap();
        assert_eq!(
            rules,
            [
                CorsRule {
                    allowed_origins: vec!["https://a.example.com".into(), "https://b.example.com?x=1&y=2".into()],
                    allowed_methods: vec!["GET".into(), "HEAD".into()],
                    max_age_seconds: Some(60),
                    ..CorsRule::default()
                },
                CorsRule::default(),
            ]
        );
        assert_eq!(parse("<CORSConfiguration/>").unwrap(), []);
    }

    #[test]
    fn refusals() {
        let cases = [
            ("<html><body/></html>", "the root element is <html>, not <CORSConfiguration>"),
            ("<?xml version=\"1.0\"?>", "no root element"),
            ("<CORSConfiguration><Rule/></CORSConfiguration>", "unexpected element <Rule> in <CORSConfiguration>"),
            ("<CORSConfiguration>text</CORSConfiguration>", "unexpected text in <CORSConfiguration>"),
            (
                "<CORSConfiguration><CORSRule><AllowedOrigins>*</AllowedOrigins></CORSRule></CORSConfiguration>",
                "unexpected element <AllowedOrigins> in <CORSRule>",
            ),
            (
                "<CORSConfiguration><CORSRule><ID>a</ID><ID>b</ID></CORSRule></CORSConfiguration>",
                "<ID> appears more than once in a <CORSRule>",
            ),
            (
                "<CORSConfiguration><CORSRule><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>",
                "CORS rules XML",
            ),
            ("<CORSConfiguration><CORSRule>", "CORS rules XML"),
            ("<CORSConfiguration></CORSRule>", "CORS rules XML"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
