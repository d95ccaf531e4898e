//! Bounded output: how much of what one call's plugin says (log lines, progress reports,
//! error text) reaches the operator, per `[output]` in the config. Shared by the parts of
//! one call; when the last of them is gone, one line says what was cut.

use crate::config::OutputLimits;
use scheme_contract::text::{cap, escape};
use std::sync::Mutex;

#[derive(Default, Debug, PartialEq, Eq)]
struct Counts {
    log_lines: u64,
    log_bytes: u64,
    cut_lines: u64,
    cut_line_bytes: u64,
    shortened_lines: u64,
    progress: u64,
    cut_progress: u64,
}

pub struct OutputBudget {
    limits: OutputLimits,
    plugin: String,
    counts: Mutex<Counts>,
}

impl OutputBudget {
    pub fn new(limits: &OutputLimits, plugin: &str) -> OutputBudget {
        OutputBudget { limits: limits.clone(), plugin: plugin.to_string(), counts: Mutex::default() }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The line to log for `message` (escaped, shortened to `max-log-line-bytes`), or none
    /// once the call has used up its lines or bytes.
    pub fn log_line(&self, message: &str) -> Option<String> {
        let mut c = self.counts();
        // Shortened before escaping too, so a 20 MB line costs no 20 MB copy.
        let max = self.limits.max_log_line_bytes;
        let raw = if message.len() as u64 > max { cap(message, max) } else { message.to_string() };
        let escaped = escape(&raw);
        let shortened = message.len() as u64 > max || escaped.len() as u64 > max;
        let line = cap(&escaped, max);
        let size = line.len() as u64;
        if c.log_lines >= self.limits.max_log_lines || c.log_bytes + size > self.limits.max_log_bytes {
            c.cut_lines += 1;
            c.cut_line_bytes += message.len() as u64;
            return None;
        }
        c.log_lines += 1;
        c.log_bytes += size;
        c.shortened_lines += u64::from(shortened);
        Some(line)
    }

    /// Whether one more progress report may be passed on.
    pub fn progress(&self) -> bool {
        let mut c = self.counts();
        if c.progress >= self.limits.max_progress_reports {
            c.cut_progress += 1;
            return false;
        }
        c.progress += 1;
        true
    }

    /// Plugin text shown as an error or as a display string: escaped and capped.
    pub fn error_text(&self, text: &str) -> String {
        let max = self.limits.max_error_bytes;
        let raw = if text.len() as u64 > max { cap(text, max) } else { text.to_string() };
        cap(&escape(&raw), max)
    }

    /// The one line that says what was cut, if anything was.
    pub fn summary(&self) -> Option<String> {
        let c = self.counts();
        let mut parts = Vec::new();
        if c.cut_lines > 0 {
            parts.push(format!(
                "{} log lines ({} bytes) dropped past max-log-lines = {} / max-log-bytes = {}",
                c.cut_lines, c.cut_line_bytes, self.limits.max_log_lines, self.limits.max_log_bytes
            ));
        }
        if c.shortened_lines > 0 {
            parts.push(format!("{} log lines shortened to max-log-line-bytes = {}", c.shortened_lines, self.limits.max_log_line_bytes));
        }
        if c.cut_progress > 0 {
            parts.push(format!("{} progress reports dropped past max-progress-reports = {}", c.cut_progress, self.limits.max_progress_reports));
        }
        (!parts.is_empty()).then(|| format!("plugin {}: {} (see [output] in the config)", self.plugin, parts.join("; ")))
    }
}

impl Drop for OutputBudget {
    fn drop(&mut self) {
        if let Some(line) = self.summary() {
            tracing::warn!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutputLimits {
        OutputLimits { max_error_bytes: 10, max_log_lines: 3, max_log_bytes: 12, max_log_line_bytes: 5, max_progress_reports: 2 }
    }

    #[test]
    fn log_lines_are_escaped_shortened_and_counted() {
        let b = OutputBudget::new(&OutputLimits { max_log_bytes: 1000, ..limits() }, "p");
        assert_eq!(b.log_line("a\nb").unwrap(), "a\\u{a [... 2 more bytes cut]");
        assert!(b.log_line("x").is_some());
        assert!(b.log_line("y").is_some());
        assert_eq!(b.log_line("z"), None, "past max-log-lines");
        let s = b.summary().unwrap();
        assert!(s.contains("1 log lines (1 bytes) dropped"), "{s}");
        assert!(s.starts_with("plugin p: "), "{s}");
        assert!(s.contains("1 log lines shortened"), "{s}");
    }

    #[test]
    fn log_bytes_are_capped_in_total() {
        let b = OutputBudget::new(&OutputLimits { max_log_lines: 100, ..limits() }, "p");
        assert!(b.log_line("aaaa").is_some());
        assert!(b.log_line("bbbb").is_some());
        assert!(b.log_line("cccc").is_some());
        assert_eq!(b.log_line("dddd"), None, "16 bytes would pass max-log-bytes = 12");
    }

    #[test]
    fn a_huge_line_costs_its_cap_not_its_size() {
        let b = OutputBudget::new(&OutputLimits { max_log_line_bytes: 100, max_log_bytes: 1 << 20, ..limits() }, "p");
        let line = b.log_line(&"\u{1b}".repeat(20 << 20)).unwrap();
        assert!(line.len() <= 100 + 40, "{}", line.len());
    }

    #[test]
    fn progress_and_error_text() {
        let b = OutputBudget::new(&limits(), "p");
        assert!(b.progress() && b.progress());
        assert!(!b.progress());
        assert!(b.summary().unwrap().contains("1 progress reports dropped"));
        let e = b.error_text(&"e".repeat(20 << 20));
        assert!(e.starts_with("eeeeeeeeee [... "), "{e}");
        assert!(e.len() < 64);
        assert_eq!(b.error_text("\u{1b}[31m"), cap("\\u{1b}[31m", 10));
    }

    #[test]
    fn nothing_cut_says_nothing() {
        let b = OutputBudget::new(&limits(), "p");
        assert!(b.log_line("ok").is_some());
        assert_eq!(b.summary(), None);
    }
}
