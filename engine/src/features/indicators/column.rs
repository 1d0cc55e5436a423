//! Output columns of the batch indicators: one allocation per column, backed by transparent huge
//! pages where the kernel offers them on request.
//!
//! A 10-million-row column is 80 MB: in 4 KiB pages that is 20,000 page faults, which cost more
//! than most indicators' arithmetic. Linux's default transparent-huge-page mode (`madvise`) backs
//! only memory that asks for it with 2 MiB pages; numpy asks for its large arrays, so TA-Lib's
//! outputs are written with 512 times fewer faults, and ours should not be the slower for lack of
//! one system call.

/// The size of a transparent huge page on x86-64 and on most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Below two huge pages the aligned interior may hold none.
const ADVISE_FROM_BYTES: usize = 2 * HUGE_PAGE;

/// An empty column with room for `rows` values, its large interior advised onto huge pages.
pub(crate) fn with_capacity(rows: usize) -> Vec<f64> {
    let col: Vec<f64> = Vec::with_capacity(rows);
    advise_huge_pages(col.as_ptr() as usize, col.capacity() * size_of::<f64>());
    col
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(start: usize, bytes: usize) {
    if bytes < ADVISE_FROM_BYTES {
        return;
    }
    // Only whole huge pages inside the allocation: the advice must not reach the allocator's
    // neighbouring memory.
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) & !(HUGE_PAGE - 1);
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside the column's own allocation, which is live for the call.
    // MADV_HUGEPAGE changes how the kernel backs the pages, never what they hold, so no Rust
    // invariant depends on it; a refusal (huge pages disabled, an old kernel) leaves ordinary
    // pages, which is why its result is ignored.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: usize, _bytes: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_column_keeps_its_capacity_and_values() {
        let rows = 12 * HUGE_PAGE / size_of::<f64>() + 17;
        let mut col = with_capacity(rows);
        assert!(col.capacity() >= rows);
        col.extend((0..rows).map(|i| i as f64));
        assert_eq!(col.len(), rows);
        assert!(col.iter().enumerate().all(|(i, &v)| v == i as f64));
    }

    /// The kernel records the advice on the mapping (`hg` in smaps' VmFlags) wherever it has
    /// transparent huge pages at all.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_large_column_is_advised_onto_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            return;
        }
        let col = with_capacity(12 * HUGE_PAGE / size_of::<f64>());
        let inside = (col.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut flags = None;
        let mut contains = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, hi)) = range.split_once('-')
                && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                contains = (lo..hi).contains(&inside);
            } else if contains && let Some(rest) = line.strip_prefix("VmFlags:") {
                flags = Some(rest.to_string());
            }
        }
        let flags = flags.expect("the column's mapping is in smaps");
        assert!(flags.split_whitespace().any(|f| f == "hg"), "no huge-page advice on the column: {flags}");
    }
}
