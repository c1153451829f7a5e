//! Prefixed, time-ordered identifiers (`call_…`, `cnt_…`, …).
//!
//! Each id is a UUIDv7 written as 26 lower-case Crockford base32 digits
//! behind a type prefix, so ids sort by creation time as plain strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const BODY_LEN: usize = 26;

/// Encodes 128 bits as 26 Crockford base32 digits (most significant first).
fn encode(value: u128) -> String {
    let mut out = [0u8; BODY_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (BODY_LEN - 1 - i);
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
    String::from_utf8(out.to_vec()).expect("alphabet is ASCII")
}

/// Decodes 26 Crockford base32 digits back to the 128 bits they carry.
pub fn decode_body(s: &str) -> Option<u128> {
    if !is_body(s) {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, b| {
        ALPHABET.iter().position(|a| *a == b).map(|d| (acc << 5) | d as u128)
    })
}

fn is_body(s: &str) -> bool {
    s.len() == BODY_LEN
        && s.bytes().all(|b| ALPHABET.contains(&b))
        // The first digit carries only 3 bits (26 * 5 = 130).
        && s.as_bytes()[0] <= b'7'
}

/// A fresh time-ordered id body. UUIDv7 from the `uuid` crate is monotonic
/// within a process, so ids made in one millisecond still sort in order.
pub fn new_body() -> String {
    encode(uuid::Uuid::now_v7().as_u128())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    pub prefix: &'static str,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be an id starting with '{}_'", self.prefix)
    }
}

impl std::error::Error for ParseIdError {}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, new_body()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The 128 bits behind the prefix (they sort like the id).
            pub fn bits(&self) -> u128 {
                decode_body(&self.0[$prefix.len() + 1..]).unwrap_or(0)
            }

            /// Wraps a value read back from our own store without checking it.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if is_body(body) => Ok(Self(s.to_owned())),
                    _ => Err(ParseIdError { prefix: $prefix }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(/// An organisation (tenant).
    OrgId, "org");
prefixed_id!(/// An API key (its public identity, never the secret).
    ApiKeyId, "key");
prefixed_id!(/// A call.
    CallId, "call");
prefixed_id!(/// A contact.
    ContactId, "cnt");
prefixed_id!(/// A domain event in the outbox.
    EventId, "evt");
prefixed_id!(/// A campaign.
    CampaignId, "cmp");
prefixed_id!(/// A call template.
    TemplateId, "tpl");
prefixed_id!(/// A contact list.
    ContactListId, "lst");
prefixed_id!(/// A user who logs in.
    UserId, "usr");
prefixed_id!(/// A family of rotating refresh tokens (one login).
    SessionId, "ses");
prefixed_id!(/// An audit log entry.
    AuditId, "aud");
prefixed_id!(/// A webhook subscription.
    WebhookId, "wh");
prefixed_id!(/// One event's delivery to one webhook subscription.
    DeliveryId, "whd");
prefixed_id!(/// One attempt at a webhook delivery (an HTTP request).
    AttemptId, "wha");
prefixed_id!(/// A department of agents.
    DepartmentId, "dep");
prefixed_id!(/// A queue where calls wait for an agent.
    QueueId, "que");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_carry_prefix_and_parse_back() {
        let id = CallId::new();
        assert!(id.as_str().starts_with("call_"));
        assert_eq!(id.as_str().len(), 5 + BODY_LEN);
        assert_eq!(id.as_str().parse::<CallId>().unwrap(), id);
    }

    #[test]
    fn ids_are_time_ordered() {
        let ids: Vec<CallId> = (0..1000).map(|_| CallId::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn wrong_prefix_or_body_is_rejected() {
        let call = CallId::new();
        assert!(call.as_str().parse::<ContactId>().is_err());
        assert!("call_".parse::<CallId>().is_err());
        assert!("call_0000000000000000000000000u".parse::<CallId>().is_err());
        assert!("call_8zzzzzzzzzzzzzzzzzzzzzzzzz".parse::<CallId>().is_err());
    }

    proptest! {
        #[test]
        fn encoding_round_trips_ordering(a: u128, b: u128) {
            prop_assert_eq!(a.cmp(&b), encode(a).cmp(&encode(b)));
            prop_assert!(is_body(&encode(a)));
            prop_assert_eq!(decode_body(&encode(a)), Some(a));
        }
    }
}
