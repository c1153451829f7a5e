//! Login tokens: short-lived HS256 access JWTs and opaque, rotating refresh
//! tokens. The signing secret lives in the database (generated on first
//! use), so every node of a cluster signs and verifies with the same one.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use switchboard_domain::id::SessionId;
use switchboard_domain::{Role, Timestamp, User};
use switchboard_store::{DynStore, StoreError};

/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a refresh token (each use issues a new one).
pub const REFRESH_TTL_SECS: i64 = 30 * 86_400;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub org: String,
    pub role: String,
    /// The login session (refresh-token family).
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub typ: String,
    /// A nonce varied only to keep the payload segment free of the
    /// base64url characters `-` and `_` (see [`JwtKeys::issue`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    /// Loads the cluster's signing secret, creating it on first use.
    pub async fn load(store: &DynStore) -> Result<Self, StoreError> {
        let mut candidate = [0u8; 48];
        rand::rng().fill_bytes(&mut candidate);
        let secret = store
            .server_secret("jwt.hs256", base64::engine::general_purpose::STANDARD.encode(candidate))
            .await?;
        Ok(Self::from_secret(secret.as_bytes()))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, user: &User, session: &SessionId, now: Timestamp) -> String {
        let claims = Claims {
            sub: user.id.to_string(),
            org: user.org_id.to_string(),
            role: user.role.as_str().to_owned(),
            sid: session.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECS,
            typ: "access".into(),
            n: None,
        };
        let mut claims = claims;
        // Browser clients read `exp` with `atob`, which refuses `-` and `_`:
        // vary the nonce until the payload segment holds neither.
        for n in 0..10_000u32 {
            let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default();
            if atob_safe(&token) {
                return token;
            }
            claims.n = Some(n);
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// Is `token` one of ours, correctly signed, whose expiry has passed?
    pub fn expired(&self, token: &str, now: Timestamp) -> bool {
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).is_ok_and(|d| d.claims.exp <= now.timestamp())
    }

    /// Checks the signature and the expiry (against `now`, the server clock).
    pub fn verify(&self, token: &str, now: Timestamp) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the server clock.
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).ok()?;
        let c = data.claims;
        (c.typ == "access" && c.exp > now.timestamp() && Role::parse(&c.role).is_some()).then_some(c)
    }
}

/// A new opaque refresh token: 32 random bytes, URL-safe base64, `sbr_` in front.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("sbr_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Does the token's payload segment decode with the browser's `atob`
/// (standard base64 alphabet: no `-` or `_`)?
pub fn atob_safe(token: &str) -> bool {
    token.split('.').nth(1).is_some_and(|p| !p.contains(['-', '_']))
}

/// Does this bearer token look like a JWT (three dot-separated parts)?
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("ey")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: switchboard_domain::UserId::new(),
            org_id: switchboard_domain::OrgId::new(),
            email: "a@b.co".into(),
            name: None,
            role: Role::Agent,
            status: switchboard_domain::UserStatus::Active,
            preferences: serde_json::json!({}),
            created_at: switchboard_domain::now(),
            updated_at: switchboard_domain::now(),
            failed_logins: 0,
            locked_until: None,
            last_login_at: None,
        }
    }

    #[test]
    fn payload_segments_decode_with_atob() {
        let keys = JwtKeys::from_secret(b"secret-1");
        let now = switchboard_domain::now();
        let mut with_nonce = 0;
        for _ in 0..1000 {
            let t = keys.issue(&user(), &SessionId::new(), now);
            assert!(atob_safe(&t), "{t}");
            assert!(keys.verify(&t, now).is_some());
            let payload = t.split('.').nth(1).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload).unwrap()).unwrap();
            with_nonce += usize::from(claims.get("n").is_some());
        }
        // Our claims (ids, role, numbers) never need the nonce.
        assert_eq!(with_nonce, 0);
        assert!(!atob_safe("a.ey-_.c"));
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let keys = JwtKeys::from_secret(b"secret-1");
        let now = switchboard_domain::now();
        let t = keys.issue(&user(), &SessionId::new(), now);
        assert!(looks_like_jwt(&t));
        assert!(keys.verify(&t, now).is_some());
        assert!(keys.verify(&t, now + chrono::Duration::seconds(ACCESS_TTL_SECS)).is_none());
        // Another secret, or a changed byte, fails.
        assert!(JwtKeys::from_secret(b"secret-2").verify(&t, now).is_none());
        let mut tampered = t.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        assert!(keys.verify(std::str::from_utf8(&tampered).unwrap(), now).is_none());
    }
}
