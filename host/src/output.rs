//! What the CLI prints: exactly one JSON object on stdout with `--json`; otherwise a
//! progress bar and a short summary on stderr (a terminal) and the result path on stdout.

use crate::bindings::types::Phase;
use crate::error::HostError;
use crate::sandbox::ProgressSink;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::time::Duration;

pub fn print_json_ok<T: Serialize>(value: &T) {
    let mut v = serde_json::to_value(value).expect("outcome serializes");
    if let Some(obj) = v.as_object_mut() {
        obj.insert("ok".into(), true.into());
    }
    println!("{v}");
}

pub fn print_json_err(e: &HostError) {
    println!("{}", serde_json::json!({ "ok": false, "error": e }));
}

/// Renders plugin progress as an indicatif bar on stderr.
pub struct BarProgress {
    bar: ProgressBar,
    phase: Option<Phase>,
}

impl BarProgress {
    pub fn new() -> BarProgress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        bar.enable_steady_tick(Duration::from_millis(200));
        BarProgress { bar, phase: None }
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressSink for BarProgress {
    fn report(&mut self, phase: Phase, done: u64, total: Option<u64>, entries: u64) {
        if self.phase != Some(phase) {
            self.phase = Some(phase);
            let style = match (phase, total) {
                (Phase::Download, Some(_)) => "downloading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                (Phase::Download, None) => "downloading {spinner} {bytes} {bytes_per_sec}",
                (Phase::Unpack, _) => "unpacking   {spinner} {msg} {bytes} written",
            };
            self.bar.set_style(ProgressStyle::with_template(style).expect("valid template"));
            self.bar.reset();
        }
        if let Some(t) = total {
            self.bar.set_length(t);
        }
        self.bar.set_position(done);
        if phase == Phase::Unpack {
            self.bar.set_message(format!("{entries} entries"));
        }
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
