//! Phone numbers, normalised to E.164 with libphonenumber's metadata.
//!
//! Two strengths of check: `Strict` accepts only numbers inside an assigned
//! numbering range; `Possible` (the default for organisations) also accepts
//! numbers whose length fits the country's plan, such as the fictional
//! +1 555 numbers used in documentation and test rigs.

use std::fmt;

use phonenumber::country::Id as CountryId;
use phonenumber::metadata::DATABASE;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A phone number in E.164 form (`+15551234567`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// How strictly a number must match its country's numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strictness {
    /// The number lies in an assigned range.
    Strict,
    /// The number has a length the country's plan allows.
    #[default]
    Possible,
}

/// An ISO 3166-1 alpha-2 region used to read national-format numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(CountryId);

impl Region {
    pub fn parse(code: &str) -> Result<Self, String> {
        code.to_ascii_uppercase()
            .parse::<CountryId>()
            .map(Region)
            .map_err(|_| format!("'{code}' is not an ISO 3166-1 alpha-2 region code"))
    }

    pub fn code(&self) -> String {
        format!("{:?}", self.0)
    }
}

const MAX_INPUT_LEN: usize = 64;

impl PhoneNumber {
    /// Parses `input` (E.164, or national format read in `region`) and
    /// normalises it. `field` names the input in the error.
    pub fn parse(field: &str, input: &str, region: Option<Region>, strictness: Strictness) -> Result<Self, FieldError> {
        let invalid = |why: &str| FieldError::new(field, why.to_owned());
        let input = input.trim();
        if input.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(invalid("must be at most 64 characters"));
        }
        if strictness == Strictness::Possible
            && let Some(e164) = possible_e164(input)
        {
            return Ok(Self(e164));
        }
        Self::parse_full(field, input, region, strictness)
    }

    /// The parser for every input form (national, punctuated, RFC 3966).
    fn parse_full(field: &str, input: &str, region: Option<Region>, strictness: Strictness) -> Result<Self, FieldError> {
        let invalid = |why: &str| FieldError::new(field, why.to_owned());
        let parsed = phonenumber::parse(region.map(|r| r.0), input)
            .map_err(|_| invalid("must be a valid phone number in E.164 format, e.g. +15551234567"))?;
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        if parsed.is_valid() {
            return Ok(Self(e164));
        }
        let possible = strictness == Strictness::Possible && {
            let national_len = parsed.national().value().to_string().len();
            possible_length(parsed.code().value(), national_len)
        };
        if possible {
            Ok(Self(e164))
        } else {
            Err(invalid("must be a valid phone number for its country (E.164, e.g. +15551234567)"))
        }
    }

    /// Normalises a number a carrier reported (caller ids can be
    /// anything: "anonymous", short codes); keeps the raw text when it does
    /// not parse.
    pub fn normalise_reported(input: &str, region: Option<Region>) -> String {
        Self::parse("", input, region, Strictness::Possible)
            .map(|p| p.0)
            .unwrap_or_else(|_| input.trim().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    /// The region the number belongs to, when its metadata says so.
    pub fn region(&self) -> Option<Region> {
        phonenumber::parse(None, &self.0).ok()?.country().id().map(Region)
    }
}

/// What the fast path needs to know of a country code, read once from the
/// metadata: the national lengths its plan allows, and what a leading
/// national or carrier prefix looks like there.
struct CodeRules {
    lengths: Vec<u16>,
    /// Anchored: a national number this matches needs the full parser.
    prefixed: Option<regex::Regex>,
}

fn code_rules(code: u16) -> Option<std::sync::Arc<CodeRules>> {
    static RULES: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<u16, Option<std::sync::Arc<CodeRules>>>>> =
        std::sync::LazyLock::new(Default::default);
    if let Some(r) = RULES.read().unwrap_or_else(|e| e.into_inner()).get(&code) {
        return r.clone();
    }
    let rules = DATABASE.by_code(&code).map(|metas| {
        let mut lengths: Vec<u16> = Vec::new();
        let mut patterns: Vec<String> = vec!["0".into()];
        for m in &metas {
            let d = m.descriptors();
            for desc in [d.general()]
                .into_iter()
                .chain(d.fixed_line())
                .chain(d.mobile())
                .chain(d.toll_free())
                .chain(d.voip())
            {
                lengths.extend_from_slice(desc.possible_length());
            }
            if let Some(p) = m.national_prefix().filter(|p| !p.is_empty()) {
                patterns.push(regex::escape(p));
            }
            if let Some(re) = m.national_prefix_for_parsing() {
                patterns.push(re.as_str().split_whitespace().collect());
            }
        }
        lengths.sort_unstable();
        lengths.dedup();
        let prefixed = regex::Regex::new(&format!("^(?:{})", patterns.join("|"))).ok();
        std::sync::Arc::new(CodeRules { lengths, prefixed })
    });
    RULES.write().unwrap_or_else(|e| e.into_inner()).insert(code, rules.clone());
    rules
}

/// Does the plan of country code `code` allow national numbers this long?
fn possible_length(code: u16, national_len: usize) -> bool {
    let Ok(len) = u16::try_from(national_len) else { return false };
    code_rules(code).is_some_and(|r| r.lengths.contains(&len))
}

/// The fast path for input already written as E.164 (`+` and digits, as
/// APIs and carriers send it): country codes are prefix-free, so one of
/// the first three digits' prefixes is the code, and the rest must have a
/// length its plan allows. The metadata's rules are read once per country.
fn possible_e164(input: &str) -> Option<String> {
    let digits = input.strip_prefix('+')?;
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    (1..=3).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        let rules = code_rules(code)?;
        // What looks like a national or carrier prefix (0, 8 in Russia, 1[12]xx
        // in China, ...) needs the full parser's rules.
        let national = &digits[n..];
        let prefixed = rules.prefixed.as_ref().is_none_or(|re| re.is_match(national));
        let ok = !prefixed && rules.lengths.contains(&(national.len() as u16));
        ok.then(|| input.to_owned())
    })
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us() -> Option<Region> {
        Some(Region::parse("US").unwrap())
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        let p = PhoneNumber::parse("phone", "(415) 867-5309", us(), Strictness::Strict).unwrap();
        assert_eq!(p.as_str(), "+14158675309");
        let p = PhoneNumber::parse("phone", "098765 43210", Some(Region::parse("in").unwrap()), Strictness::Strict).unwrap();
        assert_eq!(p.as_str(), "+919876543210");
    }

    #[test]
    fn international_numbers_ignore_the_region() {
        let p = PhoneNumber::parse("phone", "+44 20 7183 8750", us(), Strictness::Strict).unwrap();
        assert_eq!(p.as_str(), "+442071838750");
        assert_eq!(p.region().unwrap().code(), "GB");
    }

    #[test]
    fn fictional_555_numbers_are_possible_not_strict() {
        assert!(PhoneNumber::parse("phone", "+15551234567", None, Strictness::Possible).is_ok());
        let err = PhoneNumber::parse("phone", "+15551234567", None, Strictness::Strict).unwrap_err();
        assert_eq!(err.field, "phone");
    }

    #[test]
    fn garbage_is_rejected_naming_the_field() {
        for bad in ["", "abc", "+1", "+1234567890", "12", "+999 123", &"9".repeat(80)] {
            let err = PhoneNumber::parse("to", bad, us(), Strictness::Possible).unwrap_err();
            assert_eq!(err.field, "to", "{bad}");
        }
    }

    #[test]
    fn reported_numbers_keep_raw_text_when_unparseable() {
        assert_eq!(PhoneNumber::normalise_reported("anonymous", None), "anonymous");
        assert_eq!(PhoneNumber::normalise_reported(" +1 415 867 5309 ", None), "+14158675309");
    }

    #[test]
    fn region_codes_parse_case_insensitively() {
        assert_eq!(Region::parse("np").unwrap().code(), "NP");
        assert!(Region::parse("XX").is_err());
    }

    proptest! {
        /// The E.164 fast path answers exactly what the full parser answers.
        #[test]
        fn fast_path_agrees_with_the_parser(cc in proptest::sample::select(vec![1u16, 7, 20, 39, 44, 49, 61, 86, 91, 352, 880, 977, 998]), n in 0u64..1_000_000_000_000, len in 4usize..13) {
            let national = &format!("{n:012}")[12 - len..];
            let input = format!("+{cc}{national}");
            let full = PhoneNumber::parse_full("phone", &input, None, Strictness::Possible).ok().map(|p| p.0);
            if let Some(fast) = possible_e164(&input) {
                prop_assert_eq!(Some(fast), full);
            }
        }

        /// Normalising is idempotent: a normalised number parses to itself.
        #[test]
        fn normalisation_is_idempotent(n in 2_000_000_000u64..9_999_999_999u64) {
            let input = format!("+1{n}");
            if let Ok(p) = PhoneNumber::parse("phone", &input, None, Strictness::Possible) {
                let again = PhoneNumber::parse("phone", p.as_str(), None, Strictness::Possible).unwrap();
                prop_assert_eq!(p, again);
            }
        }

        /// Formatting noise never changes the result.
        #[test]
        fn separators_do_not_matter(n in 2_012_000_000u64..9_899_999_999u64) {
            let digits = n.to_string();
            let plain = format!("+1{digits}");
            let noisy = format!("+1 ({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..]);
            let a = PhoneNumber::parse("phone", &plain, None, Strictness::Possible);
            let b = PhoneNumber::parse("phone", &noisy, None, Strictness::Possible);
            prop_assert_eq!(a.ok(), b.ok());
        }

        /// Whatever the input, parsing returns a value or a field error; it never panics.
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
            let _ = PhoneNumber::parse("phone", &s, us(), Strictness::Strict);
        }
    }
}
