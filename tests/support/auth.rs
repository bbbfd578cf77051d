//! `--auth` as every door must enforce it: a server started with [`FLAGS`] (or, on a wasi:http
//! platform, `HHTTPP_ARGS=`[`args`]) over a folder holding `hello.txt` passes [`check`].

use super::Server;

/// Three users: one given with a password holding a `:` and a non-ASCII letter, one by the
/// SHA-256 of `hunter2` (`printf %s hunter2 | sha256sum`), one by a bcrypt hash of `pw` (as
/// `htpasswd -B -C 4` writes it); and `--cors`, whose preflights pass unasked.
pub const FLAGS: [&str; 7] = [
    "--auth",
    "ann:pa:ss wörd",
    "--auth",
    "bob:sha256:f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7",
    "--auth",
    CY,
    "--cors",
];

/// `cy` with the password `pw`, held as a bcrypt hash: an htpasswd line.
pub const CY: &str = "cy:$2b$04$ALozMo3Bx6Lys.xTdkRqluylA/GDqYltcbpvm.ysawlhE3r/3Gyem";

/// A share over HTTPS on an ephemeral loopback port with a self-signed certificate, for `ann`
/// with the password `pw`.
pub const OVER_TLS: [&str; 7] = [
    "0",
    "-b",
    "127.0.0.1",
    "--tls",
    "self-signed",
    "--auth",
    "ann:pw",
];

/// [`FLAGS`] as one `HHTTPP_ARGS` value, each word single-quoted.
pub fn args() -> String {
    let quoted: Vec<String> = FLAGS.iter().map(|word| format!("'{word}'")).collect();
    quoted.join(" ")
}

/// `printf %s 'ann:pa:ss wörd' | base64`, `printf %s bob:hunter2 | base64`, `printf %s cy:pw |
/// base64`.
const ANN: &str = "YW5uOnBhOnNzIHfDtnJk";
const BOB: &str = "Ym9iOmh1bnRlcjI=";
const CY_PW: &str = "Y3k6cHc=";

const CHALLENGE: &str = "Basic realm=\"hhttpp\", charset=\"UTF-8\"";

/// `GET path`, with `Authorization: authorization` if given.
fn request(path: &str, authorization: Option<&str>) -> String {
    let field = authorization.map_or(String::new(), |value| format!("Authorization: {value}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n{field}\r\n")
}

fn get(server: &Server, path: &str, authorization: Option<&str>) -> super::Response {
    server.request(request(path, authorization).as_bytes())
}

/// How many requests [`check`] makes (its access log has this many lines).
pub const REQUESTS: usize = 14;

/// Only the right user name and password read the folder; everything else is a `401` with a
/// Basic challenge and a message, and the server goes on serving.
pub fn check(server: &Server) {
    let refused = |response: super::Response, says: &str, what: &str| {
        assert_eq!(response.status, 401, "{what}: {}", response.head);
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some(CHALLENGE),
            "{what}"
        );
        assert!(
            response.text().contains(says),
            "{what}: {}",
            response.text()
        );
    };
    refused(
        get(server, "/hello.txt", None),
        "user name and password",
        "none",
    );
    // A path that names nothing is refused alike: the folder's contents stay unknown.
    refused(
        get(server, "/nothing-here", None),
        "user name and password",
        "absent file",
    );
    let wrong = "Basic YW5uOnBhc3N3b3Jk"; // ann:password
    refused(
        get(server, "/hello.txt", Some(wrong)),
        "not right",
        "wrong password",
    );
    let stranger = "Basic Ym9iOnBhOnNzIHfDtnJk"; // bob with ann's password
    refused(
        get(server, "/hello.txt", Some(stranger)),
        "not right",
        "other's password",
    );
    refused(
        get(server, "/hello.txt", Some("Bearer abc")),
        "could not be read",
        "scheme",
    );
    refused(
        get(server, "/hello.txt", Some("Basic %%%")),
        "could not be read",
        "base64",
    );
    let head = server.request(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((head.status, head.body.len()), (401, 0), "{}", head.head);

    let cy_wrong = "Basic Y3k6cHg="; // cy:px
    refused(
        get(server, "/hello.txt", Some(cy_wrong)),
        "not right",
        "wrong password of a bcrypt user",
    );
    for user in [ANN, BOB, CY_PW] {
        let allowed = get(server, "/hello.txt", Some(&format!("Basic {user}")));
        assert_eq!(allowed.status, 200, "{user}: {}", allowed.head);
        assert_eq!(allowed.text(), "Hello, world!\n");
    }
    let any_case = get(server, "/hello.txt", Some(&format!("bAsIc {BOB}")));
    assert_eq!(any_case.status, 200, "the scheme is case-insensitive");

    // A CORS preflight carries no credentials (Fetch): with --cors it is answered.
    let preflight = server.request(
        b"OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\nOrigin: https://a.example\r\n\
          Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\n\r\n",
    );
    assert_eq!(preflight.status, 204, "{}", preflight.head);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
    // `*` does not stand for `Authorization` (Fetch §3.2.5): it is named.
    let allowed = preflight
        .header("Access-Control-Allow-Headers")
        .unwrap_or_default();
    assert!(
        allowed
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("authorization"))
    );
    // An OPTIONS that is not a preflight is not.
    let options = server.request(b"OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(options.status, 401, "{}", options.head);
}

/// Where hhttpp owns the connection (not on wasi:http platforms): the first challenge keeps it
/// open for the credentials that follow, but a wrong guess ends it, so that each guess costs a
/// new connection.
pub fn wrong_guess_closes(server: &Server) {
    use std::io::Write;
    let mut stream = server.connect();
    let mut exchange = |authorization: Option<&str>| {
        let bytes = request("/hello.txt", authorization);
        stream.write_all(bytes.as_bytes()).unwrap();
        super::read_response(&mut stream, false)
    };
    let challenge = exchange(None);
    assert_eq!(challenge.status, 401);
    assert_eq!(challenge.header("Connection"), None, "{}", challenge.head);
    assert_eq!(exchange(Some(&format!("Basic {ANN}"))).status, 200);
    let wrong = exchange(Some("Basic YW5uOnBhc3N3b3Jk"));
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("Connection"), Some("close"), "{}", wrong.head);
    assert!(super::closed_by_server(&mut stream));
    // The server goes on: the next connection is served.
    assert_eq!(
        get(server, "/hello.txt", Some(&format!("Basic {BOB}"))).status,
        200
    );
}
