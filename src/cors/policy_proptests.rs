//! Property tests of the policy: whatever Origin arrives, deciding never panics and never
//! answers with an Access-Control-Allow-Origin other than `*` or that Origin.

use http::{HeaderValue, Method, header};
use proptest::prelude::*;

use super::policy_tests::{applied, policy};
use super::{ActualDecision, PreflightDecision};

fn origin_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Arbitrary bytes, of which only valid header values are kept.
        proptest::collection::vec(any::<u8>(), 0..40),
        // Plausible origins built around the rules' names.
        (
            prop::sample::select(vec!["https://", "http://", "HTTPS://", "", "null"]),
            "[a-zA-Z0-9.*-]{0,12}",
            prop::sample::select(vec!["example.com", "EXAMPLE.net", "example.org", "ba", ""]),
            prop::sample::select(vec!["", ":8443", ":", " "]),
        )
            .prop_map(|(scheme, label, domain, port)| { format!("{scheme}{label}.{domain}{port}").into_bytes() }),
    ]
}

proptest! {
    #[test]
    fn actual_echoes_the_origin_or_a_wildcard(
        origin in origin_strategy(),
        method in prop::sample::select(vec![Method::GET, Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS]),
        enforce in any::<bool>(),
    ) {
        let Ok(origin) = HeaderValue::from_bytes(&origin) else {
            return Ok(());
        };
        let policy = policy(enforce);
        match policy.actual(&origin, &method) {
            ActualDecision::Allowed(headers) => {
                let map = applied(headers);
                let allow_origin = &map[header::ACCESS_CONTROL_ALLOW_ORIGIN];
                prop_assert!(
                    allow_origin == "*" || allow_origin.as_bytes() == origin.as_bytes(),
                    "{allow_origin:?} for {origin:?}"
                );
            }
            ActualDecision::Denied => prop_assert!(enforce),
            ActualDecision::NotApplied => prop_assert!(!enforce),
        }
        let method = HeaderValue::from_str(method.as_str()).unwrap();
        if let PreflightDecision::Allowed(headers) = policy.preflight(&origin, &method, Some(&origin)) {
            let map = applied(headers);
            let allow_origin = &map[header::ACCESS_CONTROL_ALLOW_ORIGIN];
            prop_assert!(allow_origin == "*" || allow_origin.as_bytes() == origin.as_bytes());
        }
    }
}
