//! Durations in the configuration: read in humantime's syntax (`75s`, `5m`, `730days`), and
//! printed exactly, in the largest unit that divides them, so `check-config` shows `730days`
//! and not humantime's calendar reading of it (`1year 11months 29days 21h 50m 24s`).

use std::time::Duration;

use serde::{Deserializer, Serializer};

/// Units from the largest down, as humantime names them.
const UNITS: [(&str, u128); 7] = [
    ("days", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// `duration` in the largest unit that divides it exactly (`0s` for zero).
pub fn exact(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let (unit, size) = UNITS.iter().find(|(_, size)| nanos.is_multiple_of(*size)).copied().unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / size)
}

/// For `#[serde(with = "duration")]`.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&exact(*duration))
}

/// For `#[serde(with = "duration")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    humantime_serde::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_exactly_and_read_back() {
        let cases = [
            (Duration::from_secs(730 * 86_400), "730days"),
            (Duration::from_secs(75), "75s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(3), "3us"),
            (Duration::ZERO, "0s"),
        ];
        for (duration, text) in cases {
            assert_eq!(exact(duration), text);
            assert_eq!(humantime::parse_duration(text).unwrap(), duration, "{text}");
        }
    }
}
