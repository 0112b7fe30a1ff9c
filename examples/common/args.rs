//! A tiny command-line flag reader for the examples (keeps them free of extra dependencies).
//! Options not in the program's lists are refused with its usage text and exit status 2.

#![allow(dead_code)]

/// Parsed `-x value` / `--long value` options and bare `--flag`s.
pub struct Args {
    values: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Args {
    /// Reads `std::env::args`. `switches` lists the options that take no value, `options`
    /// those that take one; anything else (or a missing value) prints `usage` and exits
    /// with status 2. `--help` prints `usage` and exits with status 0.
    pub fn parse(usage: &str, switches: &[&str], options: &[&str]) -> Self {
        Self::from_iter(std::env::args().skip(1), usage, switches, options)
    }

    fn from_iter(
        mut it: impl Iterator<Item = String>,
        usage: &str,
        switches: &[&str],
        options: &[&str],
    ) -> Self {
        let mut values = Vec::new();
        let mut flags = Vec::new();
        while let Some(a) = it.next() {
            if a == "--help" {
                println!("{usage}");
                std::process::exit(0);
            } else if switches.contains(&a.as_str()) {
                flags.push(a);
            } else if options.contains(&a.as_str()) {
                match it.next() {
                    Some(v) => values.push((a, v)),
                    None => fail_usage(&format!("option {a} needs a value"), usage),
                }
            } else if a.starts_with('-') {
                fail_usage(&format!("unknown option {a}"), usage);
            } else {
                fail_usage(&format!("unexpected argument {a}"), usage);
            }
        }
        Self { values, flags }
    }

    /// The value of the last of `names` given (a repeated option: its last value).
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `names`, in order (for repeatable options such as `-t`).
    pub fn all(&self, names: &[&str]) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, v)| v.as_str())
            .collect()
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

/// Prints `msg` and the usage text, and exits with status 2.
pub fn fail_usage(msg: &str, usage: &str) -> ! {
    eprintln!("error: {msg}\n\n{usage}");
    std::process::exit(2)
}

/// Parses `0`, `1` or `2`.
pub fn qos(v: u8) -> umqtt::QoS {
    umqtt::QoS::from_u8(v).unwrap_or_else(|| fail("QoS must be 0, 1 or 2"))
}
