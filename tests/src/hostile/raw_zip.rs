//! A zip writer that writes every field exactly as told, so headers can lie: sizes, CRCs,
//! offsets, flags, counts, disk numbers. It lives in `zipcraft`, shared with the kit's own
//! archive tests.

pub use zipcraft::*;
