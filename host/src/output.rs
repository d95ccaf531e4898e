//! What the CLI prints: exactly one JSON object on stdout with `--json`; otherwise a
//! progress bar and a short summary on stderr (a terminal) and the result path on stdout.

use crate::bindings::types::Phase;
use crate::error::HostError;
use crate::sandbox::throttle::ThrottleReport;
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

/// Renders plugin progress as one indicatif bar on stderr. A zip unpacks while it
/// downloads, so reports of both phases interleave: while bytes are still expected the bar
/// follows the download and shows what was unpacked so far beside it; once the download is
/// complete (or its size unknown and only unpack reports come) it follows the unpacking.
pub struct BarProgress {
    bar: ProgressBar,
    mode: Option<BarMode>,
    downloaded: u64,
    download_total: Option<u64>,
    written: u64,
    entries: u64,
    /// Shown until the next report: the plugin is waiting on a throttling store.
    throttled: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BarMode {
    Download { sized: bool },
    Unpack,
}

impl BarProgress {
    pub fn new() -> BarProgress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        bar.enable_steady_tick(Duration::from_millis(200));
        BarProgress { bar, mode: None, downloaded: 0, download_total: None, written: 0, entries: 0, throttled: None }
    }

    fn switch(&mut self, mode: BarMode) {
        if self.mode == Some(mode) {
            return;
        }
        self.mode = Some(mode);
        let style = match mode {
            BarMode::Download { sized: true } => "downloading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}  {msg}",
            BarMode::Download { sized: false } => "downloading {spinner} {bytes} {bytes_per_sec}  {msg}",
            BarMode::Unpack => "unpacking   {spinner} {msg}",
        };
        self.bar.set_style(ProgressStyle::with_template(style).expect("valid template"));
        self.bar.reset();
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressSink for BarProgress {
    fn throttled(&mut self, wait: Duration, so_far: ThrottleReport) {
        let msg = format!(
            "the store is throttling: waiting {:.1} s before asking again ({} slow-down answers so far)",
            wait.as_secs_f64(),
            so_far.throttled
        );
        self.bar.set_message(msg.clone());
        self.throttled = Some(msg);
    }

    fn report(&mut self, phase: Phase, done: u64, total: Option<u64>, entries: u64) {
        if self.throttled.take().is_some() {
            self.bar.set_message("");
        }
        match phase {
            Phase::Download => (self.downloaded, self.download_total) = (done, total),
            Phase::Unpack => (self.written, self.entries) = (done, entries),
        }
        let downloading = match self.download_total {
            Some(t) => self.downloaded < t,
            None => phase == Phase::Download,
        };
        if downloading {
            self.switch(BarMode::Download { sized: self.download_total.is_some() });
            if let Some(t) = self.download_total {
                self.bar.set_length(t);
            }
            self.bar.set_position(self.downloaded);
            if self.entries > 0 || self.written > 0 {
                self.bar.set_message(format!("{} entries, {} written", self.entries, human_bytes(self.written)));
            }
        } else {
            self.switch(BarMode::Unpack);
            self.bar.set_message(format!("{} entries, {} written", self.entries, human_bytes(self.written)));
        }
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The bytes of an upload the store has accepted, on one indicatif bar on stderr (a
/// spinner while a package is still being packed and its size is unknown).
pub struct UploadBar {
    bar: ProgressBar,
}

impl UploadBar {
    pub fn new() -> UploadBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        bar.set_style(ProgressStyle::with_template("uploading {spinner} {bytes} {bytes_per_sec}").expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        UploadBar { bar }
    }
}

impl Default for UploadBar {
    fn default() -> Self {
        Self::new()
    }
}

impl crate::upload::UploadProgress for UploadBar {
    fn sent(&self, done: u64, total: Option<u64>) {
        if let Some(t) = total {
            if self.bar.length() != Some(t) {
                self.bar.set_style(ProgressStyle::with_template("uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}").expect("valid template"));
                self.bar.set_length(t);
            }
        }
        self.bar.set_position(done);
    }
}

impl Drop for UploadBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
