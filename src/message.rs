//! An HTTP request as every layer sees it: its method, target, version and header fields.
//!
//! Plain data: the HTTP/1.1 layer's parser makes it, the responder reads it,
//! and a door that parses HTTP itself (wasi:http) builds one from its platform's request.

/// The HTTP version of a request: HTTP/1.x from the connection machine, HTTP/2 from a host that
/// speaks it and hands each stream's request over as it is ([`crate::streams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    Http2,
}

impl Version {
    /// The version as a request line and an access log name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2.0",
        }
    }
}

/// The request method, split by how the server treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Options,
    /// A method RFC 9110 defines that a static server does not allow (`405`).
    Known(String),
    /// Any other token (`501`).
    Unknown(String),
}

impl Method {
    /// The method's token as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Known(token) | Method::Unknown(token) => token,
        }
    }

    /// Classifies a method token (case-sensitive, RFC 9110 §9.1).
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "POST" | "PUT" | "DELETE" | "PATCH" | "CONNECT" | "TRACE" => {
                Method::Known(token.to_owned())
            }
            _ => Method::Unknown(token.to_owned()),
        }
    }
}

/// Header fields in the order received. Names are stored lowercase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl FromIterator<(String, String)> for Headers {
    /// Header fields from `(name, value)` pairs; names are lowercased.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(fields: I) -> Headers {
        Headers(
            fields
                .into_iter()
                .map(|(mut n, v)| {
                    n.make_ascii_lowercase();
                    (n, v)
                })
                .collect(),
        )
    }
}

impl Headers {
    /// The value of the only or first field named `name` (lowercase).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every value of the fields named `name` (lowercase), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the field `name` (lowercase) when it appears exactly once: for a field that
    /// holds one value, sent twice it holds none that can be trusted (RFC 9110 §5.3).
    pub fn single<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        let mut values = self.all(name);
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }

    /// Every `name` field (lowercase) as one comma-separated list, as RFC 9110 §5.3 combines the
    /// lines of a list field; borrowed when there is one line, as there nearly always is.
    pub fn combined<'a>(&'a self, name: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        let mut values = self.all(name);
        let first = values.next()?;
        let rest: Vec<&str> = values.collect();
        if rest.is_empty() {
            return Some(std::borrow::Cow::Borrowed(first));
        }
        let mut joined = first.to_owned();
        for value in rest {
            joined.push_str(", ");
            joined.push_str(value);
        }
        Some(std::borrow::Cow::Owned(joined))
    }

    /// Whether any comma-separated element of any `name` field equals `token`, ignoring case
    /// (for list fields such as `Connection`).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The request-target exactly as sent.
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

impl Request {
    /// Whether the connection stays open after this exchange (RFC 9112 §9.3): `close` always
    /// wins; otherwise HTTP/1.1 persists, and HTTP/1.0 only when it asks ([`Request::asks_keep_alive`]).
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.headers.has_token("connection", "close"),
            Version::Http10 => self.asks_keep_alive(),
            // Streams end, the connection goes on (RFC 9113 §8.2.2: no `Connection` field).
            Version::Http2 => true,
        }
    }

    /// Whether the request asks in so many words to keep the connection: `Connection:
    /// keep-alive`, and no `close` (RFC 9112 §9.3, §9.6: a `close` wins). All that keeps a
    /// connection to a server answering as HTTP/1.0.
    pub fn asks_keep_alive(&self) -> bool {
        self.headers.has_token("connection", "keep-alive")
            && !self.headers.has_token("connection", "close")
    }
}

/// Whether `b` may be in a token, such as a field name (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, connection: &[&str]) -> Request {
        Request {
            method: Method::Get,
            target: "/".to_owned(),
            version,
            headers: connection
                .iter()
                .map(|v| ("Connection".to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn close_wins_over_keep_alive_in_any_version() {
        use Version::{Http10, Http11};
        for (version, fields, kept, asked) in [
            (Http11, &[][..], true, false),
            (Http11, &["close"][..], false, false),
            (Http10, &[][..], false, false),
            (Http10, &["Keep-Alive"][..], true, true),
            (Http10, &["keep-alive, close"][..], false, false),
            (Http10, &["keep-alive", "close"][..], false, false),
            (Http11, &["keep-alive", "CLOSE"][..], false, false),
        ] {
            let request = request(version, fields);
            assert_eq!(request.keep_alive(), kept, "{version:?} {fields:?}");
            assert_eq!(request.asks_keep_alive(), asked, "{version:?} {fields:?}");
        }
    }
}
