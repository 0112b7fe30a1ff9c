//! `core::mem::size_of` of the types a firmware keeps in RAM.
//!
//! Built for thumbv7em-none-eabihf, every size becomes a `TYPESIZE_<name>` symbol holding a
//! `u32`, which scripts/size.sh reads back from the ELF (so the numbers are the target's:
//! 32-bit pointers and `usize`). Built for the host, it prints the host's numbers.
//! Buffers the caller lends (`rx`, `tx`, minimq's `Buffers`, rust-mqtt's bump buffer) are
//! not included: they are the caller's choice and listed separately in docs/size.md.
#![cfg_attr(target_os = "none", no_std, no_main)]

use fw::NoIo;

type RustMqttClient = rust_mqtt::client::Client<
    'static,
    'static,
    NoIo,
    rust_mqtt::buffer::BumpBuffer<'static>,
    8,
    8,
    8,
    1,
    0,
    0,
    0,
>;

macro_rules! sizes {
    ($($name:ident: $t:ty, $what:literal;)*) => {
        $(
            #[cfg(target_os = "none")]
            #[allow(non_upper_case_globals)]
            #[used]
            #[unsafe(no_mangle)]
            static $name: u32 = core::mem::size_of::<$t>() as u32;
        )*

        fn job() -> Result<u32, u32> {
            let mut total = 0u32;
            $(
                #[cfg(target_os = "none")]
                {
                    // SAFETY: reading our own static.
                    total = total.wrapping_add(unsafe { core::ptr::read_volatile(&raw const $name) });
                }
                #[cfg(not(target_os = "none"))]
                {
                    extern crate std;
                    let n = core::mem::size_of::<$t>();
                    std::println!("{}\t{}\t{}", &stringify!($name)["TYPESIZE_".len()..], n, $what);
                    total = total.wrapping_add(n as u32);
                }
            )*
            Ok(total)
        }
    };
}

sizes! {
    TYPESIZE_umqtt_MqttClient: umqtt::client::MqttClient<'static, NoIo>,
        "umqtt MqttClient<'_, T> (N = 8, S = 1024), zero-sized T; rx/tx buffers are borrowed";
    TYPESIZE_umqtt_Session_8_1024: umqtt::session::Session<8, 1024>, "umqtt Session<8, 1024> (the client's default)";
    TYPESIZE_umqtt_Session_4_256: umqtt::session::Session<4, 256>, "umqtt Session<4, 256>";
    TYPESIZE_umqtt_Packet: umqtt::Packet<'static>, "umqtt Packet<'_>";
    TYPESIZE_umqtt_Publish: umqtt::Publish<'static>, "umqtt Publish<'_>";
    TYPESIZE_umqtt_DecodeError: umqtt::DecodeError, "umqtt DecodeError";
    TYPESIZE_mqttrs_Packet: mqttrs::Packet<'static>, "mqttrs 0.4 Packet<'_> (no_std: heapless lists)";
    TYPESIZE_minimq_Session: minimq::Session<'static>, "minimq 0.13 Session<'_>; rx/tx buffers are borrowed";
    TYPESIZE_rust_mqtt_Client: RustMqttClient,
        "rust-mqtt 0.6 Client<.., NoIo, BumpBuffer, 8, 8, 8, 1, 0, 0, 0>; bump buffer is borrowed";
}

fw::firmware!(job);
