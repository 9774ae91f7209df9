//! Validated identifiers and names. Each type's constructor is its only way in, so a
//! value of the type always satisfies the rule in `schemas/README.md`.

use std::fmt;

/// Why a string is not a valid identifier or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{input}`: {rule}")]
pub struct IdError {
    what: &'static str,
    input: String,
    rule: &'static str,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-')
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

fn check_event_id(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

fn check_producer(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

fn check_key(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(is_key_char)
}

fn check_name(s: &str) -> bool {
    (1..=250).contains(&s.len()) && s.chars().all(is_name_char)
}

fn check_experiment(s: &str) -> bool {
    (1..=200).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

fn check_segment(s: &str) -> bool {
    s.split(',').all(|pair| match pair.split_once('=') {
        Some((dim, value)) => {
            check_name(dim)
                && (1..=100).contains(&value.chars().count())
                && !value.contains('=')
                && !value.chars().any(char::is_control)
        }
        None => false,
    })
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:ident, $rule:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            ///
            /// # Errors
            #[doc = concat!("When `value` breaks the rule: ", $rule, ".")]
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if $check(&value) {
                    Ok($name(value))
                } else {
                    Err(IdError { what: $what, input: value.chars().take(80).collect(), rule: $rule })
                }
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                $name::new(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl bincode::Encode for $name {
            fn encode<E: bincode::enc::Encoder>(
                &self,
                encoder: &mut E,
            ) -> Result<(), bincode::error::EncodeError> {
                self.0.encode(encoder)
            }
        }

        impl<Context> bincode::Decode<Context> for $name {
            fn decode<D: bincode::de::Decoder<Context = Context>>(
                decoder: &mut D,
            ) -> Result<Self, bincode::error::DecodeError> {
                let text = String::decode(decoder)?;
                $name::new(text)
                    .map_err(|e| bincode::error::DecodeError::OtherString(e.to_string()))
            }
        }

        impl<'de, Context> bincode::BorrowDecode<'de, Context> for $name {
            fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
                decoder: &mut D,
            ) -> Result<Self, bincode::error::DecodeError> {
                bincode::Decode::decode(decoder)
            }
        }
    };
}

validated_string!(
    /// A producer-chosen unique event id: the dedup key. Retrying a publish with the same
    /// id never creates a second event.
    EventId, "event id", check_event_id,
    "1 to 256 printable ASCII characters, no spaces"
);
validated_string!(
    /// Who published an event (`train.py`, `ci/loan-risk#812`).
    Producer, "producer", check_producer,
    "1 to 256 printable ASCII characters"
);
validated_string!(
    /// A run's id. It is a single NATS subject token, hence the narrow alphabet.
    RunId, "run id", check_key,
    "1 to 128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"
);
validated_string!(
    /// A model's name (`loan-risk`).
    ModelName, "model name", check_key,
    "1 to 128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"
);
validated_string!(
    /// An experiment's name (`loan-risk`, `/Shared/fraud`): free text, as trackers allow.
    ExperimentName, "experiment name", check_experiment,
    "1 to 200 characters without control characters"
);

impl ExperimentName {
    /// The experiment's token: 32 lowercase hex characters of BLAKE3 over its name. It
    /// names the experiment where only a narrow alphabet fits: its log key
    /// (`experiment.<token>`) and its id in MLflow's API.
    pub fn token(&self) -> String {
        crate::Digest::of(self.0.as_bytes()).hex()[..32].to_owned()
    }
}

validated_string!(
    /// A param key or metric name (`learning_rate`, `auc`, `eval/loss`).
    Name, "name", check_name,
    "1 to 250 characters of A-Z a-z 0-9 _ . : / -"
);
validated_string!(
    /// A data segment a metric was measured on: `dim=value` pairs joined by commas
    /// (`region=EU`, `region=EU,age=18-25`).
    Segment, "segment", check_segment,
    "dim=value pairs joined by `,`; dims are names, values 1 to 100 characters without `=` `,` or control characters"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert!(RunId::new("r-7f3a_2").is_ok());
        for bad in ["", "-r", "r.1", "r 1", "ré", &"r".repeat(129)] {
            assert!(RunId::new(bad).is_err(), "{bad:?}");
        }
        assert!(Name::new("eval/auc:v2").is_ok());
        assert!(Name::new("a=b").is_err());
        assert!(EventId::new("x:y/z#1").is_ok());
        assert!(EventId::new("a b").is_err());
        assert!(Segment::new("region=EU").is_ok());
        assert!(Segment::new("region=EU,age=18-25").is_ok());
        assert!(Segment::new("income=<30k").is_ok());
        for bad in ["", "EU", "region=", "=EU", "region=EU,", "a=b=c", "r g=EU"] {
            assert!(Segment::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_names_the_input_and_rule() {
        let e = RunId::new("r.1").unwrap_err().to_string();
        assert!(e.contains("run id `r.1`") && e.contains("A-Z"), "{e}");
    }
}
