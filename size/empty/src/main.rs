//! Baseline: reset handler, vector table, panic handler and the result store, no job.
#![cfg_attr(target_os = "none", no_std, no_main)]

fn job() -> Result<u32, u32> {
    Ok(fw::opaque(0))
}

fw::firmware!(job);
