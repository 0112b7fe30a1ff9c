//! Harness that runs a real Eclipse Mosquitto broker (the Debian `mosquitto`
//! package) for integration tests and examples, using nothing but `std`.
//!
//! Every [`Broker`] gets its own temporary directory (config, log, password
//! file, persistence database) and its own free loopback port(s), so tests can
//! run in parallel. The binaries are located with [`ensure_mosquitto`] /
//! [`tool`], which install `mosquitto` and `mosquitto-clients` with `apt-get`
//! when they are missing and the process runs as root. [`mosquitto_pub`] and
//! [`mosquitto_sub`] wrap the command-line clients for interoperability tests,
//! and [`unique`] makes short, collision-free client ids and topic names.
//!
//! Include it from tests with `mod support;` (where `tests/support/mod.rs`
//! declares `pub mod broker;`) or from examples with
//! `#[path = "../tests/support/broker.rs"] mod broker;`.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long [`Broker::start_with`] and [`Broker::restart`] wait for the
/// broker to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Sub::wait_ready`] waits for the subscription to be acknowledged.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`mosquitto_pub`] lets `mosquitto_pub` run before killing it.
pub const PUB_TIMEOUT: Duration = Duration::from_secs(30);

/// Maximum length of the strings produced by [`unique`]; MQTT 3.1.1 servers
/// are only required to accept client identifiers of up to 23 bytes.
pub const MAX_CLIENT_ID_LEN: usize = 23;

/// Interval between readiness polls.
const POLL: Duration = Duration::from_millis(20);

/// Fresh port sets tried by [`Broker::start_with`] when the broker dies early.
const START_ATTEMPTS: usize = 3;

/// Attempts made by [`Broker::restart`] to rebind the same ports.
const RESTART_ATTEMPTS: usize = 5;

/// Grace period for a SIGTERM-ed broker to save its database and exit.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Line mosquitto logs once all listeners are open ("mosquitto version X running").
const RUNNING_MARK: &str = " running";

/// If the "running" log line never shows up (logging broken?), fall back to
/// trusting a successful TCP connect after this long.
const LOG_FALLBACK_AFTER: Duration = Duration::from_secs(2);

/// The command-line tools shipped by the `mosquitto` and `mosquitto-clients`
/// Debian packages.
const TOOLS: [&str; 4] = ["mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd"];

/// Directories searched after `$PATH` (`/usr/sbin` is often not on a normal
/// user's path, and that is where Debian puts the broker).
const EXTRA_DIRS: [&str; 5] = [
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/sbin",
];

static COUNTER: AtomicU64 = AtomicU64::new(0);
static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();

fn next_count() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not turn every later access into a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Locating / installing the binaries
// ---------------------------------------------------------------------------

/// Returns the path of the `mosquitto` broker binary, installing the Debian
/// packages first if necessary (see [`tool`]). Panics if it cannot be found.
pub fn ensure_mosquitto() -> PathBuf {
    tool("mosquitto")
}

/// Returns the path of one of the Mosquitto command-line tools (`mosquitto`,
/// `mosquitto_pub`, `mosquitto_sub`, `mosquitto_passwd`).
///
/// The tool is looked up on `$PATH` and then in `/usr/sbin`, `/usr/bin`,
/// `/usr/local/sbin`, `/usr/local/bin` and `/sbin`. If it is missing and the
/// process runs as root, `apt-get install -y mosquitto mosquitto-clients` is
/// run (preceded by `apt-get update` only if the first install fails). The
/// installation happens at most once per process, however many tests call
/// this concurrently. Panics with an explanation if the tool is still missing.
pub fn tool(name: &str) -> PathBuf {
    if let Some(path) = find_tool(name) {
        return path;
    }
    let install = INSTALL.get_or_init(install_packages);
    if let Some(path) = find_tool(name) {
        return path;
    }
    match install {
        Ok(()) => panic!(
            "`{name}` not found on $PATH or in {EXTRA_DIRS:?}, even though \
             the mosquitto packages are installed"
        ),
        Err(why) => panic!("`{name}` is not available: {why}"),
    }
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(EXTRA_DIRS.iter().map(PathBuf::from));
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Whether the effective user id is 0.
fn is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        // "Uid:\t<real>\t<effective>\t<saved>\t<fs>"
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn install_packages() -> Result<(), String> {
    if TOOLS.iter().all(|t| find_tool(t).is_some()) {
        return Ok(());
    }
    const HINT: &str = "install it with `sudo apt-get install mosquitto mosquitto-clients`";
    if !is_root() {
        return Err(format!(
            "the mosquitto tools are not installed and this process is not \
             root, so they cannot be installed automatically; {HINT}"
        ));
    }
    let Some(apt) = find_tool("apt-get") else {
        return Err(format!(
            "the mosquitto tools are not installed and `apt-get` is not \
             available; {HINT}"
        ));
    };
    eprintln!("[broker harness] installing mosquitto and mosquitto-clients with apt-get");
    let first = apt_get(&apt, &["install", "-y", "mosquitto", "mosquitto-clients"])?;
    if first.status.success() {
        return Ok(());
    }
    let update = apt_get(&apt, &["update"])?;
    let second = apt_get(&apt, &["install", "-y", "mosquitto", "mosquitto-clients"])?;
    if second.status.success() {
        return Ok(());
    }
    Err(format!(
        "`apt-get install -y mosquitto mosquitto-clients` failed ({}), also \
         after `apt-get update` ({}):\n{}{}",
        first.status,
        update.status,
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr),
    ))
}

fn apt_get(apt: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new(apt)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `apt-get {}`: {e}", args.join(" ")))
}

// ---------------------------------------------------------------------------
// Unique names
// ---------------------------------------------------------------------------

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("base36 digits are ASCII")
}

/// Returns `prefix-<pid>-<counter><time>` (all numbers in base 36, the time
/// part being 4 digits of the current nanoseconds), e.g. `sub-1x3k-0a9z2`,
/// for use as client ids and topic names that do not collide between tests.
///
/// The result is never longer than [`MAX_CLIENT_ID_LEN`] (23) bytes: if
/// needed the prefix is truncated (on a character boundary), never the
/// unique suffix. Note that strict MQTT 3.1.1 servers only have to accept
/// `[0-9a-zA-Z]` in client ids; mosquitto accepts the `-` used here.
pub fn unique(prefix: &str) -> String {
    let pid = base36(u64::from(std::process::id()));
    let count = base36(next_count());
    let time = (now_nanos() % 36u128.pow(4)) as u64;
    let suffix = format!("-{pid}-{count}{:0>4}", base36(time));
    let room = MAX_CLIENT_ID_LEN.saturating_sub(suffix.len());
    let mut cut = prefix.len().min(room);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &prefix[..cut])
}

// ---------------------------------------------------------------------------
// Broker configuration
// ---------------------------------------------------------------------------

/// Options for [`Broker::start_with`]; build it with the chained setters
/// starting from [`BrokerConfig::new`] or `BrokerConfig::default()`.
///
/// Whatever the options, the broker has an anonymous listener on
/// `127.0.0.1:<port>` with `allow_anonymous true` and `max_keepalive 65535`,
/// and logs everything (`log_type all`) to a file in its temp directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `Some((user, password))` adds a second listener on its own port
    /// ([`Broker::auth_port`]) with `allow_anonymous false` and a password file
    /// containing just this user. Enables `per_listener_settings true`.
    pub password: Option<(String, String)>,
    /// Enables `persistence true` with the database in the broker's temp
    /// directory and `autosave_interval 1`, so [`Broker::restart`] keeps
    /// retained messages, sessions and queued messages.
    pub persistence: bool,
    /// Extra `mosquitto.conf` lines. They are written right after the
    /// anonymous listener's block, so listener-scoped options apply to the
    /// anonymous listener; global options may be given as well.
    pub extra: Vec<String>,
    /// More listeners, each on its own free port chosen by the harness
    /// ([`Broker::listener_port`]): the option lines of each listener block
    /// (for example `protocol websockets`). They come after every other
    /// listener, so the harness' retries and restarts cover their ports too.
    pub listeners: Vec<Vec<String>>,
}

impl BrokerConfig {
    /// The default configuration: one anonymous listener, no persistence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a password-protected listener accepting only `user`/`password`.
    pub fn password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.password = Some((user.into(), password.into()));
        self
    }

    /// Turns persistence on or off.
    pub fn persistence(mut self, enabled: bool) -> Self {
        self.persistence = enabled;
        self
    }

    /// Appends one extra `mosquitto.conf` line (see [`BrokerConfig::extra`]).
    pub fn extra(mut self, line: impl Into<String>) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Adds a listener on its own port with these option lines (see
    /// [`BrokerConfig::listeners`]); its index for [`Broker::listener_port`]
    /// is the number of listeners added before it.
    pub fn listener<S: Into<String>>(mut self, lines: impl IntoIterator<Item = S>) -> Self {
        self.listeners.push(lines.into_iter().map(Into::into).collect());
        self
    }

    /// Adds an anonymous MQTT-over-WebSocket listener (`protocol websockets`).
    /// mosquitto 2.0.11 refuses a configuration whose only listeners are
    /// websockets ones, which is why the plain listener always stays.
    pub fn websockets(self) -> Self {
        self.listener(["protocol websockets"])
    }

    /// Adds an anonymous MQTT-over-WebSocket listener behind TLS (`wss`), with
    /// the server certificate and key in the PEM files `certfile`/`keyfile`.
    pub fn websockets_tls(self, certfile: &Path, keyfile: &Path) -> Self {
        self.listener([
            "protocol websockets".to_owned(),
            format!("certfile {}", certfile.display()),
            format!("keyfile {}", keyfile.display()),
        ])
    }
}

// ---------------------------------------------------------------------------
// Broker
// ---------------------------------------------------------------------------

/// A running `mosquitto` process on free loopback port(s), owning a private
/// temp directory. Dropping it kills the broker and deletes the directory.
#[derive(Debug)]
pub struct Broker {
    exe: PathBuf,
    config: BrokerConfig,
    dir: PathBuf,
    conf_path: PathBuf,
    log_path: PathBuf,
    port: u16,
    auth_port: Option<u16>,
    listener_ports: Vec<u16>,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker with the default [`BrokerConfig`]; see [`Broker::start_with`].
    pub fn start() -> Broker {
        Broker::start_with(BrokerConfig::default())
    }

    /// Starts a broker with `cfg` and returns once every listener accepts TCP
    /// connections (and mosquitto has logged that it is running).
    ///
    /// If the broker exits early (typically because another process grabbed
    /// the port between probing and binding) it is retried with fresh ports,
    /// up to 3 times. Panics, including the broker log, if it never comes up
    /// within [`READY_TIMEOUT`].
    pub fn start_with(cfg: BrokerConfig) -> Broker {
        let exe = ensure_mosquitto();
        let dir = std::env::temp_dir().join(format!(
            "umqtt-mosquitto-{}-{}-{}",
            std::process::id(),
            next_count(),
            now_nanos()
        ));
        fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create broker dir {}: {e}", dir.display()));
        let mut broker = Broker {
            exe,
            conf_path: dir.join("mosquitto.conf"),
            log_path: dir.join("mosquitto.log"),
            dir,
            config: cfg,
            port: 0,
            auth_port: None,
            listener_ports: Vec::new(),
            child: None,
        };
        broker.prepare_files();

        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let fixed = if broker.config.password.is_some() { 2 } else { 1 };
            let ports = free_ports(fixed + broker.config.listeners.len());
            broker.port = ports[0];
            broker.auth_port = ports[1..fixed].first().copied();
            broker.listener_ports = ports[fixed..].to_vec();
            let conf = broker.render_config();
            fs::write(&broker.conf_path, conf)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", broker.conf_path.display()));
            match broker.launch(&format!("start attempt {attempt}")) {
                Ok(()) => return broker,
                Err(why) => {
                    broker.kill_child();
                    failures.push(format!("attempt {attempt}: {why}"));
                }
            }
        }
        panic!(
            "mosquitto did not start ({})\n--- config ---\n{}\n--- log ---\n{}",
            failures.join("; "),
            fs::read_to_string(&broker.conf_path).unwrap_or_default(),
            broker.log()
        );
    }

    /// The port of the anonymous listener on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the password-protected listener, if [`BrokerConfig::password`] was set.
    pub fn auth_port(&self) -> Option<u16> {
        self.auth_port
    }

    /// The socket address of the anonymous listener.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// The port of the `index`-th listener added with [`BrokerConfig::listener`]
    /// (or [`BrokerConfig::websockets`], ...). Panics if there is no such listener.
    pub fn listener_port(&self, index: usize) -> u16 {
        *self.listener_ports.get(index).unwrap_or_else(|| {
            panic!(
                "the broker has {} extra listener(s), not {}",
                self.listener_ports.len(),
                index + 1
            )
        })
    }

    /// The socket address of the password-protected listener, if any.
    pub fn auth_addr(&self) -> Option<SocketAddr> {
        self.auth_port
            .map(|p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)))
    }

    /// The configuration this broker was started with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The broker's private temp directory (config, log, password file, database).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything mosquitto has logged so far, across restarts (lossily
    /// decoded); handy in assertion messages.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path.display()))
    }

    /// Whether the broker process is currently alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Stops the broker and waits for it to exit. It first gets SIGTERM, so
    /// that a persistent broker saves its database, and is killed if it is
    /// still alive after 15 s. Does nothing if it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let started = Instant::now();
        let signalled = terminate(&child);
        if signalled {
            while started.elapsed() < STOP_GRACE {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(POLL);
            }
        }
        // A persistent broker killed here has not saved its database: what it acknowledged
        // since the last autosave is lost. Say so, as that breaks the premise of a no-loss test.
        eprintln!(
            "[broker harness] mosquitto on port {} killed with SIGKILL ({})",
            self.port,
            if signalled {
                format!("still running {:?} after SIGTERM", started.elapsed())
            } else {
                "SIGTERM could not be sent".to_owned()
            }
        );
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the broker (see [`Broker::stop`]) and starts it again with the
    /// same configuration, directory and ports, returning once it accepts
    /// connections. Panics, including the log, if it cannot come back.
    pub fn restart(&mut self) {
        self.stop();
        let mut failures = Vec::new();
        for attempt in 1..=RESTART_ATTEMPTS {
            match self.launch(&format!("restart attempt {attempt}")) {
                Ok(()) => return,
                Err(why) => {
                    self.kill_child();
                    failures.push(format!("attempt {attempt}: {why}"));
                    thread::sleep(Duration::from_millis(250));
                }
            }
        }
        panic!(
            "mosquitto did not restart on port(s) {:?} ({})\n--- log ---\n{}",
            self.ports(),
            failures.join("; "),
            self.log()
        );
    }

    fn ports(&self) -> Vec<u16> {
        std::iter::once(self.port)
            .chain(self.auth_port)
            .chain(self.listener_ports.iter().copied())
            .collect()
    }

    /// Creates the files that stay the same across port retries and restarts.
    fn prepare_files(&self) {
        if let Some((user, password)) = &self.config.password {
            make_password_file(&self.dir.join("passwd"), user, password);
        }
        if self.config.persistence {
            let data = self.dir.join("data");
            fs::create_dir_all(&data).unwrap_or_else(|e| panic!("cannot create {}: {e}", data.display()));
        }
    }

    fn render_config(&self) -> String {
        let mut lines = vec!["# Generated by tests/support/broker.rs".to_owned()];
        if self.config.password.is_some() {
            // mosquitto 2.x only applies allow_anonymous/password_file per
            // listener with this set, and it must precede the listeners.
            lines.push("per_listener_settings true".to_owned());
        }
        if is_root() {
            // Otherwise mosquitto drops privileges to the `mosquitto` user,
            // which cannot write to our root-owned temp directory.
            lines.push("user root".to_owned());
        }
        lines.push(format!("log_dest file {}", self.log_path.display()));
        lines.push("log_type all".to_owned());
        lines.push("log_timestamp true".to_owned());
        lines.push("connection_messages true".to_owned());
        lines.push("max_keepalive 65535".to_owned());
        if self.config.persistence {
            lines.push("persistence true".to_owned());
            // The trailing slash matters: mosquitto concatenates the file name.
            lines.push(format!(
                "persistence_location {}/",
                self.dir.join("data").display()
            ));
            lines.push("autosave_interval 1".to_owned());
        } else {
            lines.push("persistence false".to_owned());
        }
        lines.push(format!("listener {} 127.0.0.1", self.port));
        lines.push("allow_anonymous true".to_owned());
        lines.extend(self.config.extra.iter().cloned());
        if let Some(auth_port) = self.auth_port {
            lines.push(format!("listener {auth_port} 127.0.0.1"));
            lines.push("allow_anonymous false".to_owned());
            lines.push(format!("password_file {}", self.dir.join("passwd").display()));
        }
        for (port, options) in self.listener_ports.iter().zip(&self.config.listeners) {
            lines.push(format!("listener {port} 127.0.0.1"));
            if self.config.password.is_some() && !options.iter().any(|l| l.starts_with("allow_anonymous")) {
                // per_listener_settings is on: each listener needs its own.
                lines.push("allow_anonymous true".to_owned());
            }
            lines.extend(options.iter().cloned());
        }
        lines.push(String::new());
        lines.join("\n")
    }

    /// Spawns mosquitto with the current config file and waits until it is ready.
    fn launch(&mut self, what: &str) -> Result<(), String> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("cannot open {}: {e}", self.log_path.display()))?;
        let offset = log.seek(SeekFrom::End(0)).unwrap_or(0);
        {
            use std::io::Write;
            let _ = writeln!(log, "=== broker harness: {what}, port(s) {:?} ===", self.ports());
        }
        let stderr = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.exe)
            .arg("-c")
            .arg(&self.conf_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", self.exe.display()))?;
        self.child = Some(child);
        self.wait_ready(offset)
    }

    fn wait_ready(&mut self, log_offset: u64) -> Result<(), String> {
        let started = Instant::now();
        let addrs: Vec<SocketAddr> = self
            .ports()
            .into_iter()
            .map(|p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)))
            .collect();
        loop {
            let child = self.child.as_mut().ok_or("no broker process")?;
            match child.try_wait() {
                Ok(Some(status)) => return Err(format!("mosquitto exited early with {status}")),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot poll mosquitto: {e}")),
            }
            // Only trust the ports once mosquitto says all listeners are open:
            // a bare connect could reach someone else who owns the port.
            let running = read_from(&self.log_path, log_offset).contains(RUNNING_MARK);
            if (running || started.elapsed() >= LOG_FALLBACK_AFTER)
                && addrs
                    .iter()
                    .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
            {
                // The connect may have raced with an exit caused by a failed bind.
                if let Ok(None) = child.try_wait() {
                    return Ok(());
                }
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(format!(
                    "not accepting connections on {addrs:?} after {READY_TIMEOUT:?}"
                ));
            }
            thread::sleep(POLL);
        }
    }

    fn kill_child(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill_child();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Sends SIGTERM (via `sh -c kill`, as std has no signal API); returns
/// whether that worked.
#[cfg(unix)]
fn terminate(child: &Child) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", child.id()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn terminate(_child: &Child) -> bool {
    false
}

/// Reads a file from `offset` to its end (lossily decoded); empty on error.
fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Finds `n` distinct free loopback ports by binding port 0 and releasing it.
fn free_ports(n: usize) -> Vec<u16> {
    let probes: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
        })
        .collect();
    probes
        .iter()
        .map(|l| l.local_addr().expect("bound listener has an address").port())
        .collect()
}

// ---------------------------------------------------------------------------
// mosquitto_pub / mosquitto_sub
// ---------------------------------------------------------------------------

/// Runs `mosquitto_pub -h 127.0.0.1 -p <port> <args...>` to completion and
/// returns its output (exit status 0 means the publish went through; the
/// status is the CONNACK return code when the connection is refused).
///
/// Stdin is empty, so `-l`/`-s` publish nothing. Panics if the command cannot
/// be started or runs longer than [`PUB_TIMEOUT`].
pub fn mosquitto_pub(port: u16, args: &[&str]) -> Output {
    let mut child = Command::new(tool("mosquitto_pub"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn mosquitto_pub: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + PUB_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let err = stderr.join().unwrap_or_default();
                panic!(
                    "mosquitto_pub {args:?} on port {port} still running after \
                     {PUB_TIMEOUT:?}; stderr: {}",
                    String::from_utf8_lossy(&err)
                );
            }
            Err(e) => panic!("cannot wait for mosquitto_pub: {e}"),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Reads a pipe to the end on a background thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Starts `mosquitto_sub -h 127.0.0.1 -p <port> -d <args...>` in the
/// background; see [`Sub`].
///
/// `-d` is added unless `args` already contain `-d`/`--debug`: its
/// "Subscribed (mid: …)" line is the only way to know when the subscription
/// is active ([`Sub::wait_ready`]). The debug lines are filtered out of the
/// message lines returned by [`Sub::wait_lines`] (so a payload line shaped
/// like `Client <word> sending …`/`received …` or starting with
/// `Subscribed (mid:` would be dropped too; use [`Sub::raw_lines`]). When coreutils' `stdbuf`
/// is available the tool runs under `stdbuf -oL`, because with a pipe as
/// stdout mosquitto_sub would otherwise hold its debug output (and the
/// newline ending the latest message) in the stdio buffer.
pub fn mosquitto_sub(port: u16, args: &[&str]) -> Sub {
    let sub = tool("mosquitto_sub");
    let mut cmd = match find_tool("stdbuf") {
        Some(stdbuf) => {
            let mut cmd = Command::new(stdbuf);
            cmd.arg("-oL").arg(&sub);
            cmd
        }
        None => Command::new(&sub),
    };
    let port = port.to_string();
    let mut full_args = vec!["-h", "127.0.0.1", "-p", port.as_str()];
    if !args.iter().any(|a| *a == "-d" || *a == "--debug") {
        full_args.push("-d");
    }
    full_args.extend_from_slice(args);
    let mut child = cmd
        .args(&full_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn mosquitto_sub: {e}"));
    let shared = Arc::new(SubShared::default());
    let readers = vec![
        spawn_stdout_reader(child.stdout.take(), Arc::clone(&shared)),
        spawn_stderr_reader(child.stderr.take(), Arc::clone(&shared)),
    ];
    Sub {
        child,
        shared,
        readers,
        command: format!("mosquitto_sub {}", full_args.join(" ")),
    }
}

#[derive(Default)]
struct SubState {
    /// Every stdout line, debug output included, without the line terminator.
    lines: Vec<String>,
    /// Stdout reached end of file (the process exited or closed it).
    eof: bool,
}

#[derive(Default)]
struct SubShared {
    state: Mutex<SubState>,
    changed: Condvar,
    stderr: Mutex<String>,
}

fn spawn_stdout_reader(pipe: Option<ChildStdout>, shared: Arc<SubShared>) -> JoinHandle<()> {
    thread::spawn(move || {
        if let Some(pipe) = pipe {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        if buf.last() == Some(&b'\r') {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        lock(&shared.state).lines.push(line);
                        shared.changed.notify_all();
                    }
                }
            }
        }
        lock(&shared.state).eof = true;
        shared.changed.notify_all();
    })
}

fn spawn_stderr_reader(pipe: Option<ChildStderr>, shared: Arc<SubShared>) -> JoinHandle<()> {
    thread::spawn(move || {
        if let Some(pipe) = pipe {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            while let Ok(n) = reader.read_until(b'\n', &mut buf) {
                if n == 0 {
                    break;
                }
                lock(&shared.stderr).push_str(&String::from_utf8_lossy(&buf));
                buf.clear();
            }
        }
    })
}

/// Whether a `mosquitto_sub -d` stdout line is debug output rather than a message.
fn is_debug_line(line: &str) -> bool {
    // "Client <client id> sending CONNECT", "Client <id> received SUBACK", ...
    let mut words = line.split(' ');
    let client_log = words.next() == Some("Client")
        && words.next().is_some()
        && matches!(words.next(), Some("sending" | "received"));
    client_log || line.starts_with("Subscribed (mid:") || line.starts_with("Unsubscribed (mid:")
}

/// A background `mosquitto_sub` started by [`mosquitto_sub`].
///
/// A reader thread collects its stdout line by line. Typical use: call
/// [`Sub::wait_ready`] before publishing, then [`Sub::wait_lines`]. The
/// process is killed when the `Sub` is dropped.
pub struct Sub {
    child: Child,
    shared: Arc<SubShared>,
    readers: Vec<JoinHandle<()>>,
    command: String,
}

impl Sub {
    /// Waits until the broker has acknowledged the subscription, i.e. until
    /// mosquitto_sub's `-d` output shows "Subscribed (mid: …)" / "received
    /// SUBACK". Returns `false` on timeout or if the process exited first.
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |lines| {
            lines
                .iter()
                .any(|l| l.starts_with("Subscribed (mid:") || l.contains(" received SUBACK"))
                .then_some(())
        })
        .is_some()
    }

    /// Like [`Sub::wait_subscribed`] with [`SUBSCRIBE_TIMEOUT`], but panics
    /// (showing the output and stderr so far) if the subscription never
    /// becomes active.
    pub fn wait_ready(&self) {
        if !self.wait_subscribed(SUBSCRIBE_TIMEOUT) {
            panic!(
                "`{}` did not subscribe within {SUBSCRIBE_TIMEOUT:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.command,
                self.raw_lines().join("\n"),
                self.stderr()
            );
        }
    }

    /// Waits until at least `n` message lines (debug output excluded) have
    /// arrived, the process has exited, or `timeout` has passed, and returns
    /// all message lines received so far (which may be fewer or more than `n`).
    pub fn wait_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        self.wait_until(timeout, |lines| {
            let messages = filter_messages(lines);
            (messages.len() >= n).then_some(messages)
        })
        .unwrap_or_else(|| self.lines())
    }

    /// The message lines received so far (debug output excluded).
    pub fn lines(&self) -> Vec<String> {
        filter_messages(&lock(&self.shared.state).lines)
    }

    /// Every stdout line received so far, including `-d` debug output.
    pub fn raw_lines(&self) -> Vec<String> {
        lock(&self.shared.state).lines.clone()
    }

    /// Everything mosquitto_sub wrote to stderr so far (connection errors).
    pub fn stderr(&self) -> String {
        lock(&self.shared.stderr).clone()
    }

    /// Waits up to `timeout` for the process to exit by itself (e.g. after
    /// `-C <count>` messages or `-W <secs>`), returning its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
                _ => return None,
            }
        }
    }

    /// Kills the process (if still running) and waits for it and the reader threads.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    fn wait_until<T>(&self, timeout: Duration, mut check: impl FnMut(&[String]) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(found) = check(&state.lines) {
                return Some(found);
            }
            let now = Instant::now();
            if state.eof || now >= deadline {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.kill();
    }
}

fn filter_messages(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| !is_debug_line(l)).cloned().collect()
}

/// Writes a mosquitto password file holding `user` with `password`.
pub fn make_password_file(path: &Path, user: &str, password: &str) {
    let out = Command::new(tool("mosquitto_passwd"))
        .arg("-b")
        .arg("-c")
        .arg(path)
        .arg(user)
        .arg(password)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run mosquitto_passwd: {e}"));
    assert!(
        out.status.success(),
        "mosquitto_passwd failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
