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
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
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
