//! IANA time zones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;

/// A valid IANA time zone name (`Asia/Kolkata`, `America/New_York`, `UTC`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(chrono_tz::UTC);

    pub fn parse(field: &str, name: &str) -> Result<Self, FieldError> {
        chrono_tz::Tz::from_str(name.trim())
            .map(TimeZone)
            .map_err(|_| FieldError::new(field, format!("'{name}' is not an IANA time zone name, e.g. America/New_York")))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::parse("timeZone", &s).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        assert_eq!(TimeZone::parse("tz", "Asia/Kathmandu").unwrap().name(), "Asia/Kathmandu");
        let e = TimeZone::parse("tz", "Mars/Olympus").unwrap_err();
        assert_eq!(e.field, "tz");
    }
}
