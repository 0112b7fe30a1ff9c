//! A tiny command-line flag reader for the examples (keeps them free of extra dependencies).

#![allow(dead_code)]

use std::collections::HashMap;

/// Parsed `-x value` / `--long value` options and bare `--flag`s.
pub struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// Reads `std::env::args`. `switches` lists the options that take no value.
    pub fn parse(switches: &[&str]) -> Self {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if switches.contains(&a.as_str()) {
                flags.push(a);
            } else if a.starts_with('-') {
                match it.next() {
                    Some(v) => {
                        values.insert(a, v);
                    }
                    None => fail(&format!("option {a} needs a value")),
                }
            } else {
                fail(&format!("unexpected argument {a}"));
            }
        }
        Self { values, flags }
    }

    /// The value of the first of `names` that was given.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.values.get(*n)).map(String::as_str)
    }

    /// The value parsed as `T`, or `default`.
    pub fn num<T: std::str::FromStr>(&self, names: &[&str], default: T) -> T {
        match self.get(names) {
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| fail(&format!("{} is not a number: {v}", names[0]))),
            None => default,
        }
    }

    /// Whether the switch was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

/// Prints `msg` and exits with status 2.
pub fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

/// Milliseconds since the first call: the monotonic clock handed to `MqttClient::set_clock`.
pub fn clock_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

/// Parses `0`, `1` or `2`.
pub fn qos(v: u8) -> umqtt::QoS {
    umqtt::QoS::from_u8(v).unwrap_or_else(|| fail("QoS must be 0, 1 or 2"))
}
