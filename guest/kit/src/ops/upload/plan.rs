//! How a file of a given size goes up: one PUT, or a multipart upload whose part size keeps
//! the part count within the store's limit. Pure arithmetic.

use crate::{Error, Result};

const MIB: u64 = 1 << 20;

/// Up to this size a file goes up in one PUT: one request is cheapest, and a PUT that fails
/// near its end costs at most this much to send again.
pub const SINGLE_PUT_MAX: u64 = 8 * MIB;
/// The smallest part of a multipart upload: S3's own minimum, which every store here
/// accepts. The host holds a part per sending instance and one more, and each instance a
/// copy of the part it sends, so this sets the upload's memory; 5 MiB keeps the host under
/// 64 MiB while packing, and still large enough that per-request costs stay small.
pub const PART_SIZE_FLOOR: u64 = 5 * MIB;

/// What a store accepts from an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Highest part number (parts are numbered from 1).
    pub max_parts: u32,
    /// Every part but the last must hold at least this much.
    pub min_part_size: u64,
    pub max_part_size: u64,
    /// Largest object one PUT may store.
    pub max_single_put: u64,
    pub max_object_size: u64,
}

/// WIT `upload-plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadPlan {
    /// Bytes per part; every part but the last holds exactly this many. With one part, the
    /// whole size.
    pub part_size: u64,
    /// 1: one PUT. More: a multipart upload of this many parts.
    pub part_count: u32,
}

/// Plans `size` bytes (which may be an upper bound) under `limits`: one PUT up to
/// [`SINGLE_PUT_MAX`], else parts of at least [`PART_SIZE_FLOOR`], grown in whole MiB until
/// the store's part count suffices.
pub fn plan(limits: &UploadLimits, size: u64) -> Result<UploadPlan> {
    if size > limits.max_object_size {
        return Err(Error::limit(format!("{size} bytes are more than the {} bytes the store accepts in one object", limits.max_object_size)));
    }
    if size <= SINGLE_PUT_MAX.min(limits.max_single_put) {
        return Ok(UploadPlan { part_size: size, part_count: 1 });
    }
    let max_parts = u64::from(limits.max_parts.max(1));
    let needed = size.div_ceil(max_parts).div_ceil(MIB).saturating_mul(MIB);
    let mut part_size = needed.max(PART_SIZE_FLOOR).max(limits.min_part_size);
    if size <= part_size {
        // Only a store whose single PUT is smaller than a part gets here: two parts then.
        part_size = size.div_ceil(2).max(limits.min_part_size);
        if size <= part_size {
            return Err(Error::limit(format!(
                "{size} bytes are too many for one PUT ({} bytes) and too few for parts of at least {} bytes",
                limits.max_single_put, limits.min_part_size
            )));
        }
    }
    if part_size > limits.max_part_size {
        return Err(Error::limit(format!(
            "{size} bytes need parts of {part_size} bytes to fit in {max_parts} parts, more than the {} bytes the store accepts in one part",
            limits.max_part_size
        )));
    }
    let part_count = size.div_ceil(part_size);
    match u32::try_from(part_count).ok().filter(|&n| u64::from(n) <= max_parts) {
        Some(part_count) => Ok(UploadPlan { part_size, part_count }),
        None => Err(Error::limit(format!("{size} bytes need {part_count} parts, more than the {max_parts} the store accepts"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const GIB: u64 = 1 << 30;
    /// S3's numbers (the S3 plugin has its own copy).
    const S3: UploadLimits =
        UploadLimits { max_parts: 10_000, min_part_size: 5 * MIB, max_part_size: 5 * GIB, max_single_put: 5 * GIB, max_object_size: 5 << 40 };

    #[test]
    fn small_files_go_up_in_one_put() {
        for size in [0, 1, SINGLE_PUT_MAX] {
            assert_eq!(plan(&S3, size).unwrap(), UploadPlan { part_size: size, part_count: 1 }, "{size}");
        }
    }

    #[test]
    fn larger_files_go_in_parts_of_the_floor() {
        assert_eq!(plan(&S3, SINGLE_PUT_MAX + 1).unwrap(), UploadPlan { part_size: 5 * MIB, part_count: 2 });
        assert_eq!(plan(&S3, 100 * MIB).unwrap(), UploadPlan { part_size: 5 * MIB, part_count: 20 });
        // 10,000 parts of the floor are the most before parts grow.
        assert_eq!(plan(&S3, 50_000 * MIB).unwrap(), UploadPlan { part_size: 5 * MIB, part_count: 10_000 });
    }

    #[test]
    fn parts_grow_in_whole_mib_to_stay_within_the_part_count() {
        let p = plan(&S3, 50_000 * MIB + 1).unwrap();
        assert_eq!(p, UploadPlan { part_size: 6 * MIB, part_count: 8_334 });
        let one_tib = 1u64 << 40;
        let p = plan(&S3, one_tib).unwrap();
        // ceil(1 TiB / 10,000) = 109,951,163 bytes, rounded up to 105 MiB.
        assert_eq!(p, UploadPlan { part_size: 105 * MIB, part_count: 9_987 });
        let p = plan(&S3, 5 << 40).unwrap();
        assert!(p.part_count <= 10_000 && p.part_size.is_multiple_of(MIB) && p.part_size <= 5 * GIB, "{p:?}");
        assert!(u64::from(p.part_count) * p.part_size >= 5 << 40);
        assert!(u64::from(p.part_count - 1) * p.part_size < 5 << 40, "no part is left empty");
    }

    #[test]
    fn beyond_the_store_is_a_limit() {
        let e = plan(&S3, (5 << 40) + 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
        assert!(e.message.contains("one object"), "{}", e.message);
        // A store whose largest object is larger than its parts allow.
        let loose = UploadLimits { max_object_size: u64::MAX, ..S3 };
        let e = plan(&loose, 10_000 * 5 * GIB + 1).unwrap_err();
        assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("in one part"), "{}", e.message);
        assert_eq!(plan(&loose, 10_000 * 5 * GIB).unwrap(), UploadPlan { part_size: 5 * GIB, part_count: 10_000 });
    }

    #[test]
    fn the_store_minimum_and_single_put_maximum_apply() {
        let big_min = UploadLimits { min_part_size: 16 * MIB, ..S3 };
        assert_eq!(plan(&big_min, 20 * MIB).unwrap(), UploadPlan { part_size: 16 * MIB, part_count: 2 });
        // A single PUT smaller than a part: two parts, if the store's minimum allows.
        let small_put = UploadLimits { max_single_put: MIB, min_part_size: 100 << 10, ..S3 };
        assert_eq!(plan(&small_put, 2 * MIB + 1).unwrap(), UploadPlan { part_size: MIB + 1, part_count: 2 });
        let e = plan(&UploadLimits { max_single_put: MIB, ..S3 }, 2 * MIB).unwrap_err();
        assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("too few"), "{}", e.message);
        let few_parts = UploadLimits { max_parts: 3, ..S3 };
        assert_eq!(plan(&few_parts, 30 * MIB).unwrap(), UploadPlan { part_size: 10 * MIB, part_count: 3 });
    }
}
