//! Webhook signatures: Standard Webhooks (the default), the SaaS spec's
//! `X-Signature` and Ringez's `X-Ringez-Signature`. While a rotated-out
//! secret still signs, each header carries one signature per secret,
//! separated by a space (the Standard Webhooks convention).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchboard_domain::{SignatureScheme, WebhookSecret};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The headers that sign `body` for event `id` sent at `timestamp` (Unix
/// seconds). `webhook-id` and `webhook-timestamp` go with every scheme, so
/// any receiver can deduplicate by event id.
pub fn headers(scheme: SignatureScheme, secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let mut out = vec![("webhook-id", id.to_owned()), ("webhook-timestamp", timestamp.to_string())];
    match scheme {
        SignatureScheme::Standard => {
            let signed_prefix = format!("{id}.{timestamp}.");
            let sigs: Vec<String> = secrets
                .iter()
                .filter_map(|s| s.standard_key())
                .map(|key| {
                    let mac = hmac(&key, &[signed_prefix.as_bytes(), body]);
                    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac))
                })
                .collect();
            out.push(("webhook-signature", sigs.join(" ")));
        }
        SignatureScheme::Saas => {
            let sigs: Vec<String> = secrets
                .iter()
                .map(|s| format!("sha256={}", hex::encode(hmac(s.expose().as_bytes(), &[body]))))
                .collect();
            out.push(("x-signature", sigs.join(" ")));
        }
        SignatureScheme::Ringez => {
            let sigs: Vec<String> = secrets.iter().map(|s| hex::encode(hmac(s.expose().as_bytes(), &[body]))).collect();
            out.push(("x-ringez-signature", sigs.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn standard_webhooks_reference_vector() {
        let secret = WebhookSecret::from_trusted("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = br#"{"test": 2432232314}"#;
        let h = headers(
            SignatureScheme::Standard,
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert_eq!(
            h[2],
            ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned())
        );
    }

    /// RFC 4231 test case 2, through the body-only schemes.
    #[test]
    fn body_hmac_schemes() {
        let secret = WebhookSecret::from_trusted("Jefe".into());
        let body = b"what do ya want for nothing?";
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let h = headers(SignatureScheme::Saas, std::slice::from_ref(&secret), "evt_x", 1, body);
        assert_eq!(h[2], ("x-signature", format!("sha256={want}")));
        let h = headers(SignatureScheme::Ringez, &[secret.clone(), secret], "evt_x", 1, body);
        assert_eq!(h[2], ("x-ringez-signature", format!("{want} {want}")));
    }
}
