//! Cross-origin access with the semantics of an Amazon S3 bucket CORS configuration, so that
//! players written against an S3 bucket keep working when the origin serves the same files.
//!
//! Rules come from the server's configuration or from a file exported from S3 ([`parse_rules`],
//! [`load_rules_file`]). [`CorsPolicy::new`] validates and compiles them once at startup; per
//! request, [`CorsPolicy::preflight`] and [`CorsPolicy::actual`] only compare bytes and clone
//! pre-rendered header values. The same rules also yield the Flash and Silverlight policy files
//! ([`render_crossdomain_xml`], [`render_clientaccesspolicy_xml`]).
//!
//! [`CorsPolicy::decide`] and [`add_vary`] are the pipeline's CORS step: the request's headers in,
//! the decision counted, the headers and `Vary` names out.

mod compile;
mod headers;
mod method;
mod parse;
mod parse_xml;
mod pattern;
mod policy;
mod policy_files;
mod policy_origin;
#[cfg(test)]
mod policy_proptests;
#[cfg(test)]
mod policy_tests;
mod rule;
mod step;

pub use headers::CorsHeaders;
pub use parse::{load_rules_file, parse_rules};
pub use policy::{ActualDecision, CorsPolicy, PreflightDecision};
pub use policy_files::{render_clientaccesspolicy_xml, render_crossdomain_xml};
pub use rule::{CorsRule, CorsRulesError};
pub use step::{CorsDenied, add_vary, is_preflight};
