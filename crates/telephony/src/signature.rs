//! `X-Twilio-Signature`, computed and checked as Twilio documents it:
//! base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value,
//! sorted by name)). For JSON bodies the URL carries
//! `bodySHA256=<hex SHA-256 of the body>` and only the URL is signed.
//! Twilio may sign the URL with or without the default port, so both
//! forms are accepted, like its own validators do.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The signature of `url` and form `params` under `token`.
pub fn compute(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name, then value, as Twilio's helper libraries sort repeated names.
    sorted.sort();
    sorted.dedup();
    let mut mac = HmacSha1::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `url` with and without its scheme's default port (`:443` / `:80`).
fn url_forms(url: &str) -> Vec<String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(p) => p,
        None => return vec![url.to_owned()],
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return vec![url.to_owned()],
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // The port follows the last ':' unless that is inside an IPv6 literal.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    match port {
        Some(p) if p == default => vec![url.to_owned(), format!("{scheme}://{host}{path}")],
        Some(_) => vec![url.to_owned()],
        None => vec![url.to_owned(), format!("{scheme}://{host}:{default}{path}")],
    }
}

/// Checks a form POST's signature.
pub fn validate_form(token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    url_forms(url).iter().any(|u| constant_eq(&compute(token, u, params), signature))
}

/// The hex SHA-256 Twilio puts in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Checks a JSON POST: the URL's `bodySHA256` must match the body, and the
/// signature covers the URL alone.
pub fn validate_json(token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let claimed = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v));
    let Some(claimed) = claimed else { return false };
    constant_eq(&body_sha256(body), &claimed.to_ascii_lowercase()) && validate_form(token, url, &[], signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_added_and_removed() {
        assert_eq!(
            url_forms("https://a.com/x?y=1"),
            vec!["https://a.com/x?y=1", "https://a.com:443/x?y=1"]
        );
        assert_eq!(url_forms("http://a.com:80/x"), vec!["http://a.com:80/x", "http://a.com/x"]);
        assert_eq!(url_forms("http://a.com:1234/x"), vec!["http://a.com:1234/x"]);
    }

    #[test]
    fn a_changed_parameter_breaks_the_signature() {
        let params = vec![("CallSid".to_owned(), "CA1".to_owned())];
        let sig = compute("tok", "https://x.com/s", &params);
        assert!(validate_form("tok", "https://x.com/s", &params, &sig));
        assert!(!validate_form("tok", "https://x.com/s", &[("CallSid".into(), "CA2".into())], &sig));
        assert!(!validate_form("other", "https://x.com/s", &params, &sig));
        assert!(!validate_form("tok", "https://x.com/t", &params, &sig));
    }
}
