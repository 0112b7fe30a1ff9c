//! Topic names and topic filters (section 4.7): validated borrowed newtypes and matching.
//!
//! A [`TopicName`] is what a PUBLISH is sent to; a [`TopicFilter`] is what a SUBSCRIBE asks
//! for and may hold the wildcards `+` (one level) and `#` (all remaining levels). Both are
//! checked once, when built, so the encoder and the client never check them again.

use core::fmt;
use core::ops::Deref;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{NUL, Reader, WILDCARD, scan};

/// Longest topic in bytes ([MQTT-4.7.3-3]).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Why a string is not a valid topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TopicError {
    /// The topic is empty ([MQTT-4.7.3-1]).
    Empty,
    /// The topic is longer than 65,535 bytes ([MQTT-4.7.3-3]).
    TooLong,
    /// The topic contains U+0000 ([MQTT-4.7.3-2]).
    NullCharacter,
    /// A topic name contains `+` or `#` ([MQTT-4.7.1-1]).
    WildcardInName,
    /// A filter has `#` somewhere other than a whole last level, or `+` sharing a level with
    /// other characters ([MQTT-4.7.1-2], [MQTT-4.7.1-3]).
    MisplacedWildcard,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty topic",
            Self::TooLong => "topic longer than 65535 bytes",
            Self::NullCharacter => "topic contains U+0000",
            Self::WildcardInName => "wildcard in topic name",
            Self::MisplacedWildcard => "misplaced wildcard in topic filter",
        })
    }
}

impl core::error::Error for TopicError {}

impl From<TopicError> for DecodeError {
    fn from(e: TopicError) -> Self {
        match e {
            TopicError::Empty => Self::EmptyTopic,
            // A decoded string is at most 65,535 bytes by construction.
            TopicError::TooLong => Self::UnexpectedEnd,
            TopicError::NullCharacter => Self::NullCharacter,
            TopicError::WildcardInName => Self::WildcardInTopicName,
            TopicError::MisplacedWildcard => Self::InvalidTopicFilter,
        }
    }
}

impl From<TopicError> for EncodeError {
    fn from(e: TopicError) -> Self {
        match e {
            TopicError::TooLong => Self::FieldTooLong,
            TopicError::NullCharacter => Self::NullCharacter,
            // Unreachable for validated types; kept total so the conversion never panics.
            _ => Self::PacketTooLarge,
        }
    }
}

/// The rules names and filters share; `found` is what [`scan`](crate::wire::scan) found.
fn check_common(s: &str, found: u32) -> Result<(), TopicError> {
    // Empty or over the limit in one comparison: `len - 1` wraps around for an empty string.
    if s.len().wrapping_sub(1) >= MAX_TOPIC_LEN {
        return Err(if s.is_empty() {
            TopicError::Empty
        } else {
            TopicError::TooLong
        });
    }
    if found & NUL != 0 {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks a topic name: non-empty, at most 65,535 bytes, no U+0000, no wildcard (the first
/// rule broken, in that order).
pub fn validate_topic_name(s: &str) -> Result<(), TopicError> {
    name_rules(s, scan(s.as_bytes(), WILDCARD))
}

fn name_rules(s: &str, found: u32) -> Result<(), TopicError> {
    check_common(s, found)?;
    if found & WILDCARD != 0 {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter: the topic-name rules, except that `+` may fill any whole level and
/// `#` may fill the last level.
pub fn validate_topic_filter(s: &str) -> Result<(), TopicError> {
    filter_rules(s, scan(s.as_bytes(), WILDCARD))
}

fn filter_rules(s: &str, found: u32) -> Result<(), TopicError> {
    check_common(s, found)?;
    wildcard_rules(s, found)
}

/// Where the wildcards of a filter may stand.
#[inline(always)]
fn wildcard_rules(s: &str, found: u32) -> Result<(), TopicError> {
    if found & WILDCARD == 0 {
        return Ok(());
    }
    // A wildcard must be a whole level: preceded by `/` (or the start), and `+` followed by
    // `/` (or the end), `#` by nothing at all ([MQTT-4.7.1-2], [MQTT-4.7.1-3]). Only the
    // neighbours of each wildcard are looked at; the loop itself is one test a byte.
    // (`c | 8 == b'+'` holds for `+` (0x2B) and `#` (0x23) only.)
    let bytes = s.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if c | 8 != b'+' {
            continue;
        }
        let before = if i == 0 { Some(&b'/') } else { bytes.get(i - 1) };
        let after = bytes.get(i + 1);
        let misplaced = before != Some(&b'/') || (after.is_some() && (c == b'#' || after != Some(&b'/')));
        if misplaced {
            return Err(TopicError::MisplacedWildcard);
        }
    }
    Ok(())
}

/// A validated topic name: the destination of a PUBLISH or a will message.
///
/// ```
/// use umqtt::TopicName;
/// assert!(TopicName::new("home/living_room/light").is_ok());
/// assert!(TopicName::new("home/+/light").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TopicName<'a>(&'a str);

impl<'a> TopicName<'a> {
    /// Validates `s` as a topic name.
    ///
    /// # Errors
    /// [`TopicError`] naming the rule `s` breaks.
    pub fn new(s: &'a str) -> Result<Self, TopicError> {
        validate_topic_name(s).map(|()| Self(s))
    }

    /// A string the decoder has read and checked against every topic-name rule
    /// ([`Reader::topic_name`](crate::wire::Reader::topic_name)).
    pub(crate) const fn decoded(s: &'a str) -> Self {
        Self(s)
    }

    /// The topic as a string slice.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A validated topic filter: what a SUBSCRIBE or UNSUBSCRIBE names.
///
/// ```
/// use umqtt::{TopicFilter, TopicName};
/// let f = TopicFilter::new("home/+/light").unwrap();
/// assert!(f.matches(TopicName::new("home/kitchen/light").unwrap()));
/// assert!(TopicFilter::new("home/#/light").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TopicFilter<'a>(&'a str);

impl<'a> TopicFilter<'a> {
    /// Validates `s` as a topic filter.
    ///
    /// # Errors
    /// [`TopicError`] naming the rule `s` breaks.
    pub fn new(s: &'a str) -> Result<Self, TopicError> {
        validate_topic_filter(s).map(|()| Self(s))
    }

    /// A string the decoder has read and checked against every topic-filter rule
    /// ([`Reader::topic_filter`](crate::wire::Reader::topic_filter)).
    pub(crate) const fn decoded(s: &'a str) -> Self {
        Self(s)
    }

    /// The filter as a string slice.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether a message published to `name` matches this filter (4.7).
    pub fn matches(&self, name: TopicName<'_>) -> bool {
        topic_matches(self.0, name.0)
    }
}

macro_rules! str_newtype_impls {
    ($t:ident) => {
        impl Deref for $t<'_> {
            type Target = str;
            fn deref(&self) -> &str {
                self.0
            }
        }
        impl AsRef<str> for $t<'_> {
            fn as_ref(&self) -> &str {
                self.0
            }
        }
        impl fmt::Debug for $t<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0, f)
            }
        }
        impl fmt::Display for $t<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl<'a> TryFrom<&'a str> for $t<'a> {
            type Error = TopicError;
            fn try_from(s: &'a str) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }
        impl PartialEq<str> for $t<'_> {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t<'_> {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}
str_newtype_impls!(TopicName);
str_newtype_impls!(TopicFilter);

/// Whether topic `name` matches topic `filter` under the rules of section 4.7:
/// `+` matches exactly one level (possibly empty), `#` matches the parent level and every
/// level below it, and a filter that starts with a wildcard never matches a name that starts
/// with `$` ([MQTT-4.7.2-1]). Matching is byte-exact: case-sensitive, no normalisation.
///
/// The arguments are not validated; use [`TopicFilter::matches`] for checked inputs.
///
/// ```
/// use umqtt::topic_matches;
/// assert!(topic_matches("sport/#", "sport"));
/// assert!(topic_matches("+/+", "/finance"));
/// assert!(!topic_matches("#", "$SYS/broker/uptime"));
/// ```
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(nl)) if fl == nl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The topic readers of the packet parsers: a length-prefixed string that is also a valid
/// topic, with the string's errors first (U+0000, then UTF-8), then the topic rules.
impl<'a> Reader<'a> {
    /// A topic name (3.3.2.1, 3.1.3.2): a [`string`](Reader::string) that is also a valid
    /// [`TopicName`].
    pub fn topic_name(&mut self) -> Result<TopicName<'a>, DecodeError> {
        self.topic_name_in(None)
    }

    /// [`topic_name`](Self::topic_name) in a payload checked as UTF-8 as a whole (`text` as
    /// for [`Reader::string_in`]).
    #[inline(always)]
    pub fn topic_name_in(&mut self, text: Option<&'a str>) -> Result<TopicName<'a>, DecodeError> {
        let (s, found) = self.string_in(WILDCARD, text)?;
        // A decoded string is at most 65,535 bytes and free of U+0000 already: emptiness and
        // wildcards are what is left of the rules (4.7.3).
        if s.is_empty() {
            return Err(DecodeError::EmptyTopic);
        }
        if found & WILDCARD != 0 {
            return Err(DecodeError::WildcardInTopicName);
        }
        Ok(TopicName::decoded(s))
    }

    /// A topic filter (3.8.3, 3.10.3): a [`string`](Reader::string) that is also a valid
    /// [`TopicFilter`]. `text` as for [`Reader::string_in`].
    pub fn topic_filter(&mut self, text: Option<&'a str>) -> Result<TopicFilter<'a>, DecodeError> {
        let (s, found) = self.string_in(WILDCARD, text)?;
        if s.is_empty() {
            return Err(DecodeError::EmptyTopic);
        }
        if wildcard_rules(s, found).is_err() {
            return Err(DecodeError::InvalidTopicFilter);
        }
        Ok(TopicFilter::decoded(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_topic_name("a/b"), Ok(()));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_name(" "), Ok(()));
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
    }

    #[test]
    fn filters() {
        for ok in [
            "#",
            "+",
            "a/#",
            "+/+",
            "/+",
            "a/+/b",
            "sport/tennis/#",
            "//",
            "+/#",
            "$SYS/#",
        ] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["a#", "a/#/b", "#/", "a+", "+a/b", "a/b+", "##", "a/++"] {
            assert_eq!(
                validate_topic_filter(bad),
                Err(TopicError::MisplacedWildcard),
                "{bad}"
            );
        }
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_filter("a/\0"), Err(TopicError::NullCharacter));
    }

    #[test]
    fn wildcard_placement_matches_the_level_rule_for_every_short_filter() {
        // Reference: every level holding a wildcard is exactly `+` or `#`, and `#` only as the
        // last level. Every string of up to 5 bytes over a small alphabet.
        fn reference(s: &str) -> bool {
            let levels: std::vec::Vec<&str> = s.split('/').collect();
            levels
                .iter()
                .enumerate()
                .all(|(i, l)| !l.contains(['+', '#']) || *l == "+" || (*l == "#" && i == levels.len() - 1))
        }
        let alphabet = [b'a', b'/', b'+', b'#', b'$'];
        for len in 0..=5u32 {
            for n in 0..alphabet.len().pow(len) {
                let mut k = n;
                let v: std::vec::Vec<u8> = (0..len)
                    .map(|_| {
                        let c = alphabet[k % alphabet.len()];
                        k /= alphabet.len();
                        c
                    })
                    .collect();
                let s = core::str::from_utf8(&v).unwrap();
                let found = scan(s.as_bytes(), WILDCARD);
                assert_eq!(wildcard_rules(s, found).is_ok(), reference(s), "{s:?}");
            }
        }
    }

    #[test]
    fn matching() {
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/#", "sport", true),
            ("#", "anything/at/all", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("#", "$SYS/uptime", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
            ("a/b", "a/B", false),
            ("a/b", "a/b/", false),
            ("a/b/", "a/b/", true),
        ];
        for (f, n, want) in cases {
            assert_eq!(topic_matches(f, n), want, "{f} vs {n}");
        }
    }

    fn with_len(bytes: &[u8]) -> std::vec::Vec<u8> {
        let mut v = (bytes.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn topic_errors_keep_the_precedence_of_string_then_constructor() {
        // U+0000 first, then UTF-8, then the topic rules, whatever the order of the bytes.
        let cases: [(&[u8], DecodeError, Option<DecodeError>); 7] = [
            (
                b"a/+\0",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"\0\xff",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"a\xff#",
                DecodeError::InvalidUtf8,
                Some(DecodeError::InvalidUtf8),
            ),
            (b"", DecodeError::EmptyTopic, Some(DecodeError::EmptyTopic)),
            (b"a/+", DecodeError::WildcardInTopicName, None),
            (
                b"a#/\0",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"a#/b",
                DecodeError::WildcardInTopicName,
                Some(DecodeError::InvalidTopicFilter),
            ),
        ];
        for (bytes, name_err, filter_err) in cases {
            let input = with_len(bytes);
            assert_eq!(Reader(&input).topic_name(), Err(name_err), "name {bytes:?}");
            if let Some(e) = filter_err {
                assert_eq!(Reader(&input).topic_filter(None), Err(e), "filter {bytes:?}");
            }
        }
        let input = with_len(b"a/+/#");
        assert_eq!(Reader(&input).topic_filter(None).map(|f| f.as_str()), Ok("a/+/#"));
        assert_eq!(
            Reader(&with_len(b"a/b")).topic_name().map(|t| t.as_str()),
            Ok("a/b")
        );
    }
}
