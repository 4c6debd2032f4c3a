//! The five methods an S3 CORS rule may name, kept as a bit set so that checking a request's
//! method against a rule is a single AND.

/// A method S3 accepts in AllowedMethod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum S3Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl S3Method {
    const ALL: [S3Method; 5] = [S3Method::Get, S3Method::Head, S3Method::Put, S3Method::Post, S3Method::Delete];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            S3Method::Get => "GET",
            S3Method::Head => "HEAD",
            S3Method::Put => "PUT",
            S3Method::Post => "POST",
            S3Method::Delete => "DELETE",
        }
    }

    /// A method named in a rule; any case is accepted.
    pub(super) fn from_rule(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str().eq_ignore_ascii_case(name))
    }

    /// The value of Access-Control-Request-Method. Methods are case-sensitive tokens, and
    /// browsers send these five in upper case, so anything else is not one of them.
    pub(super) fn from_request_header(value: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str().as_bytes() == value)
    }

    /// The method of an actual request.
    pub(super) fn from_http(method: &http::Method) -> Option<Self> {
        Self::ALL.into_iter().find(|candidate| candidate.as_str() == method.as_str())
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`S3Method`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct MethodSet(u8);

impl MethodSet {
    /// Adds `method`; returns false when it was already there.
    pub(super) fn insert(&mut self, method: S3Method) -> bool {
        let fresh = !self.contains(method);
        self.0 |= method.bit();
        fresh
    }

    pub(super) fn contains(self, method: S3Method) -> bool {
        self.0 & method.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_ignore_case_request_header_does_not() {
        assert_eq!(S3Method::from_rule("get"), Some(S3Method::Get));
        assert_eq!(S3Method::from_rule("Delete"), Some(S3Method::Delete));
        assert_eq!(S3Method::from_rule("PATCH"), None);
        assert_eq!(S3Method::from_request_header(b"HEAD"), Some(S3Method::Head));
        assert_eq!(S3Method::from_request_header(b"head"), None);
        assert_eq!(S3Method::from_request_header(b"OPTIONS"), None);
        assert_eq!(S3Method::from_http(&http::Method::POST), Some(S3Method::Post));
        assert_eq!(S3Method::from_http(&http::Method::OPTIONS), None);
    }

    #[test]
    fn set_membership() {
        let mut set = MethodSet::default();
        assert!(set.insert(S3Method::Get));
        assert!(!set.insert(S3Method::Get));
        assert!(set.contains(S3Method::Get));
        assert!(!set.contains(S3Method::Head));
    }
}
