//! Time-series validation splits over bar indices: walk-forward (rolling or anchored), purged k-fold with embargo
//! and combinatorial purged cross-validation with its backtest paths (López de Prado, AFML ch. 7 and 12).
//!
//! Everything here is a pure function of the number of bars and the label spans; nothing looks at prices.
//!
//! Purging follows AFML Snippet 7.1: observation `i` carries a label built from bars `i..=label_end[i]`, and a
//! training observation is dropped when its label span intersects the label span of any test observation. The
//! embargo (AFML Snippet 7.2) stretches every test label span by `embargo` bars to the right before that check,
//! so it only ever removes training observations that follow a test block. Because each test observation's span
//! starts at its own bar, the union of the spans of a contiguous test block is the single interval
//! `[first, max label_end (+ embargo)]`, which is what the implementation checks.
//!
//! With `label_end[i] = min(i + h, n - 1)` this removes `h` observations before every test block and `h + embargo`
//! after it, which is exactly skfolio's `CombinatorialPurgedCV(purged_size = h, embargo_size = embargo)` and
//! `WalkForward(purged_size = gap)`; the reference tests check both that setting and irregular label ends.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// skfolio refuses more combinations than this; each split is a full model fit, so more is a misconfiguration.
pub const MAX_CPCV_SPLITS: u64 = 100_000;

/// Invalid split parameters. Every message names the parameter and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("invalid `label_end[{index}]`: {reason}")]
    LabelEnd { index: usize, reason: String },
    #[error("purging and embargo leave split {split} without training observations")]
    EmptyTrain { split: usize },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError::InvalidParameter { name, reason: reason.into() }
}

/// One train/test split. Ranges are half-open bar-index ranges, sorted and disjoint; training sets can be
/// non-contiguous once purging cuts holes around the test blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<Range<usize>>,
    pub test: Vec<Range<usize>>,
}

impl Split {
    pub fn train_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.train.iter().flat_map(Clone::clone)
    }

    pub fn test_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.test.iter().flat_map(Clone::clone)
    }

    pub fn train_len(&self) -> usize {
        self.train.iter().map(ExactSizeIterator::len).sum()
    }

    pub fn test_len(&self) -> usize {
        self.test.iter().map(ExactSizeIterator::len).sum()
    }
}

/// How the training window moves between walk-forward splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalkForwardMode {
    /// Fixed-length training window that slides with the test window.
    Rolling,
    /// Training always starts at bar 0 and grows (skfolio `expand_train=True`).
    Anchored,
}

/// Walk-forward parameters, all in bars.
///
/// Mapping to skfolio `WalkForward`: `train` = `train_size`, `test` = `test_size`, `gap` = `purged_size`,
/// `Anchored` = `expand_train=True`, `reduce_test` = `reduce_test`. skfolio always steps by `test_size`;
/// `step` other than `test` has no skfolio equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkForwardSpec {
    /// Length of the (first) training window.
    pub train: usize,
    /// Length of each test window.
    pub test: usize,
    /// Distance between consecutive test starts; `None` means `test` (non-overlapping test windows).
    pub step: Option<usize>,
    pub mode: WalkForwardMode,
    /// Bars dropped between the end of training and the start of testing (labels that look ahead).
    pub gap: usize,
    /// Keep a final, shorter test window instead of dropping it.
    pub reduce_test: bool,
}

impl WalkForwardSpec {
    pub fn rolling(train: usize, test: usize) -> Self {
        Self { train, test, step: None, mode: WalkForwardMode::Rolling, gap: 0, reduce_test: false }
    }

    pub fn anchored(train: usize, test: usize) -> Self {
        Self { mode: WalkForwardMode::Anchored, ..Self::rolling(train, test) }
    }

    pub fn with_step(self, step: usize) -> Self {
        Self { step: Some(step), ..self }
    }

    pub fn with_gap(self, gap: usize) -> Self {
        Self { gap, ..self }
    }

    pub fn with_reduce_test(self, reduce_test: bool) -> Self {
        Self { reduce_test, ..self }
    }
}

/// Walk-forward splits over `n` bars: test windows start at `train + gap` and advance by `step`.
///
/// Errors when a size is zero or when not even one split fits (skfolio would silently yield nothing).
pub fn walk_forward(n: usize, spec: WalkForwardSpec) -> Result<Vec<Split>, ValidationError> {
    if spec.train == 0 {
        return Err(invalid("train", "must be at least 1 bar"));
    }
    if spec.test == 0 {
        return Err(invalid("test", "must be at least 1 bar"));
    }
    let step = spec.step.unwrap_or(spec.test);
    if step == 0 {
        return Err(invalid("step", "must be at least 1 bar"));
    }
    let first_test = spec.train.saturating_add(spec.gap);
    let needed = if spec.reduce_test { first_test.saturating_add(1) } else { first_test.saturating_add(spec.test) };
    if n < needed {
        return Err(invalid(
            "n",
            format!(
                "{n} bars cannot hold one split of train {} + gap {} + test {}{}",
                spec.train,
                spec.gap,
                spec.test,
                if spec.reduce_test { " (at least 1 test bar with reduce_test)" } else { "" }
            ),
        ));
    }
    let mut splits = Vec::new();
    let mut test_start = first_test;
    while test_start < n {
        let test_end = test_start.saturating_add(spec.test);
        if test_end > n && !spec.reduce_test {
            break;
        }
        let train_end = test_start - spec.gap;
        let train_start = match spec.mode {
            WalkForwardMode::Rolling => train_end - spec.train,
            WalkForwardMode::Anchored => 0,
        };
        let (train, test) = (train_start..train_end, test_start..test_end.min(n));
        splits.push(Split { train: vec![train], test: vec![test] });
        if test_end >= n {
            break;
        }
        test_start = test_start.saturating_add(step);
    }
    Ok(splits)
}

/// `label_end[i] = min(i + horizon, n - 1)`: labels built from the next `horizon` bars (e.g. a forward return).
pub fn fixed_horizon_label_end(n: usize, horizon: usize) -> Vec<usize> {
    (0..n).map(|i| i.saturating_add(horizon).min(n.saturating_sub(1))).collect()
}

/// Embargo length from a fraction of the sample, `floor(n * fraction)` as in AFML Snippet 7.2.
pub fn embargo_bars(n: usize, fraction: f64) -> Result<usize, ValidationError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(invalid("embargo fraction", format!("must lie in [0, 1), got {fraction}")));
    }
    // n is a bar count, far below 2^53, so the product is exact enough for floor().
    Ok((n as f64 * fraction).floor() as usize)
}

fn check_label_end(n: usize, label_end: &[usize]) -> Result<(), ValidationError> {
    if label_end.len() != n {
        return Err(invalid("label_end", format!("has {} entries but n = {n}", label_end.len())));
    }
    for (index, &end) in label_end.iter().enumerate() {
        if end < index || end >= n {
            return Err(ValidationError::LabelEnd {
                index,
                reason: format!("{end} must lie in [{index}, {}]: a label ends at or after its own bar", n - 1),
            });
        }
    }
    Ok(())
}

/// Merges sorted test ranges that touch into maximal blocks.
fn merge_blocks(test: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut blocks: Vec<Range<usize>> = Vec::with_capacity(test.len());
    for r in test.iter().filter(|r| !r.is_empty()) {
        match blocks.last_mut() {
            Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
            _ => blocks.push(r.clone()),
        }
    }
    blocks
}

/// Training ranges left after removing the test blocks, purging and the embargo.
fn purged_train(n: usize, test: &[Range<usize>], label_end: &[usize], embargo: usize) -> Vec<Range<usize>> {
    let blocks = merge_blocks(test);
    // Inclusive forbidden window per block: union of the test label spans, stretched by the embargo.
    let windows: Vec<(usize, usize)> = blocks
        .iter()
        .map(|b| {
            let last = label_end[b.clone()].iter().copied().max().unwrap_or(b.end - 1).max(b.end - 1);
            (b.start, last.saturating_add(embargo).min(n - 1))
        })
        .collect();
    let mut train: Vec<Range<usize>> = Vec::new();
    for (i, &end_i) in label_end.iter().enumerate() {
        let in_test = blocks.iter().any(|b| b.contains(&i));
        let purged = windows.iter().any(|&(start, end)| i <= end && end_i >= start);
        if in_test || purged {
            continue;
        }
        match train.last_mut() {
            Some(last) if last.end == i => last.end = i + 1,
            _ => train.push(i..i + 1),
        }
    }
    train
}

/// Purged k-fold (AFML ch. 7): `k` contiguous test folds sized like `numpy.array_split` (the first `n % k`
/// folds one bar longer), each trained on every other observation whose label span does not reach into the
/// test labels' span stretched by `embargo` bars.
pub fn purged_kfold(n: usize, k: usize, label_end: &[usize], embargo: usize) -> Result<Vec<Split>, ValidationError> {
    if k < 2 {
        return Err(invalid("k", format!("must be at least 2 folds, got {k}")));
    }
    if n < k {
        return Err(invalid("n", format!("{n} bars cannot fill {k} folds")));
    }
    check_label_end(n, label_end)?;
    let (base, extra) = (n / k, n % k);
    let mut start = 0;
    let mut splits = Vec::with_capacity(k);
    for fold in 0..k {
        let end = start + base + usize::from(fold < extra);
        let block = start..end;
        let test = vec![block];
        let train = purged_train(n, &test, label_end, embargo);
        if train.is_empty() {
            return Err(ValidationError::EmptyTrain { split: fold });
        }
        splits.push(Split { train, test });
        start = end;
    }
    Ok(splits)
}

/// Combinatorial purged cross-validation: the splits, the groups and how they recombine into backtest paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpcv {
    /// The `n_groups` contiguous groups (skfolio sizing: `n / n_groups` bars each, the last takes the rest).
    pub groups: Vec<Range<usize>>,
    /// One split per combination of test groups, in `itertools.combinations` (lexicographic) order; each
    /// split's `test` holds one range per test group, ascending.
    pub splits: Vec<Split>,
    /// The test group ids of each split (parallel to `splits`).
    pub test_groups: Vec<Vec<usize>>,
    /// `path_ids[s][j]`: the path that split `s`'s `j`-th test group belongs to (skfolio `get_path_ids()`).
    pub path_ids: Vec<Vec<usize>>,
    /// `phi = k/N * C(N, k)` backtest paths; path `p` visits every group once, in order, as
    /// `(split, group range)`: group `g` is taken from the `p`-th split (ascending) that tests `g`.
    pub paths: Vec<Vec<(usize, Range<usize>)>>,
}

fn binomial(n: u64, k: u64) -> Option<u64> {
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        // Exact at every step: acc * (n - i) is divisible by i + 1 after i + 1 factors.
        acc = acc.checked_mul(u128::from(n - i))? / u128::from(i + 1);
        if acc > u128::from(u64::MAX) {
            return None;
        }
    }
    u64::try_from(acc).ok()
}

/// Lexicographic k-combinations of `0..n`, matching `itertools.combinations(range(n), k)`.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut comb: Vec<usize> = (0..k).collect();
    loop {
        out.push(comb.clone());
        // Rightmost position that can still move right.
        let Some(pos) = (0..k).rev().find(|&i| comb[i] < n - k + i) else {
            return out;
        };
        comb[pos] += 1;
        for i in pos + 1..k {
            comb[i] = comb[i - 1] + 1;
        }
    }
}

/// Combinatorial purged CV (AFML ch. 12) over `n` bars in `n_groups` groups with `n_test_groups` test groups
/// per split: `C(N, k)` splits, purged and embargoed like [`purged_kfold`], and `k/N * C(N, k)` paths.
///
/// Differences from skfolio `CombinatorialPurgedCV`: purging is driven by `label_end` (skfolio removes a fixed
/// `purged_size`; the two agree for `label_end = fixed_horizon_label_end(n, purged_size)`), `n_test_groups = 1`
/// is allowed (it is purged k-fold with skfolio's group sizes), and instead of skfolio's
/// `purged_size + embargo_size < n / n_folds - 1` rule a split whose purged training set is empty is an error.
pub fn cpcv(
    n: usize,
    n_groups: usize,
    n_test_groups: usize,
    label_end: &[usize],
    embargo: usize,
) -> Result<Cpcv, ValidationError> {
    if n_groups < 2 {
        return Err(invalid("n_groups", format!("must be at least 2, got {n_groups}")));
    }
    if n_test_groups == 0 || n_test_groups >= n_groups {
        return Err(invalid(
            "n_test_groups",
            format!("must lie in [1, n_groups - 1] = [1, {}], got {n_test_groups}", n_groups - 1),
        ));
    }
    if n < n_groups {
        return Err(invalid("n", format!("{n} bars cannot fill {n_groups} groups")));
    }
    check_label_end(n, label_end)?;
    let n_splits =
        binomial(n_groups as u64, n_test_groups as u64).filter(|&c| c <= MAX_CPCV_SPLITS).ok_or_else(|| {
            invalid(
                "n_test_groups",
                format!(
                    "C({n_groups}, {n_test_groups}) splits exceed the limit of {MAX_CPCV_SPLITS}; use fewer groups"
                ),
            )
        })?;

    let size = n / n_groups;
    let groups: Vec<Range<usize>> =
        (0..n_groups).map(|g| g * size..if g + 1 == n_groups { n } else { (g + 1) * size }).collect();
    let test_groups = combinations(n_groups, n_test_groups);
    debug_assert_eq!(test_groups.len() as u64, n_splits);

    let mut splits = Vec::with_capacity(test_groups.len());
    for (s, tg) in test_groups.iter().enumerate() {
        let test: Vec<Range<usize>> = tg.iter().map(|&g| groups[g].clone()).collect();
        let train = purged_train(n, &test, label_end, embargo);
        if train.is_empty() {
            return Err(ValidationError::EmptyTrain { split: s });
        }
        splits.push(Split { train, test });
    }

    // The p-th split (ascending) that tests group g supplies group g of path p.
    let n_paths = test_groups.len() * n_test_groups / n_groups;
    let mut seen = vec![0usize; n_groups];
    let mut path_ids = Vec::with_capacity(test_groups.len());
    let mut paths: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::with_capacity(n_groups); n_paths];
    let mut by_group: Vec<Vec<usize>> = vec![Vec::with_capacity(n_paths); n_groups];
    for (s, tg) in test_groups.iter().enumerate() {
        let ids: Vec<usize> = tg
            .iter()
            .map(|&g| {
                let p = seen[g];
                seen[g] += 1;
                by_group[g].push(s);
                p
            })
            .collect();
        path_ids.push(ids);
    }
    for (g, split_ids) in by_group.iter().enumerate() {
        for (p, &s) in split_ids.iter().enumerate() {
            paths[p].push((s, groups[g].clone()));
        }
    }
    Ok(Cpcv { groups, splits, test_groups, path_ids, paths })
}

#[cfg(test)]
// Splits are lists of ranges; a one-range list is the expected value, not a mistaken `collect`.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    const REFERENCE: &str = include_str!("../../tests/reference/backtest/validation.json");

    #[derive(Deserialize)]
    struct RefSplit {
        train: Vec<[usize; 2]>,
        test: Vec<[usize; 2]>,
    }

    #[derive(Deserialize)]
    struct RefWalkForward {
        n: usize,
        train: usize,
        test: usize,
        gap: usize,
        anchored: bool,
        reduce_test: bool,
        splits: Vec<RefSplit>,
    }

    #[derive(Deserialize)]
    struct RefKFold {
        source: String,
        n: usize,
        k: usize,
        label_end: Vec<usize>,
        embargo: usize,
        splits: Vec<RefSplit>,
    }

    #[derive(Deserialize)]
    struct RefCpcv {
        source: String,
        n: usize,
        n_groups: usize,
        n_test_groups: usize,
        label_end: Vec<usize>,
        embargo: usize,
        groups: Vec<[usize; 2]>,
        test_groups: Vec<Vec<usize>>,
        path_ids: Vec<Vec<usize>>,
        n_paths: usize,
        splits: Vec<RefSplit>,
    }

    #[derive(Deserialize)]
    struct Reference {
        walk_forward: Vec<RefWalkForward>,
        purged_kfold: Vec<RefKFold>,
        cpcv: Vec<RefCpcv>,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE).unwrap()
    }

    fn to_ranges(r: &[[usize; 2]]) -> Vec<Range<usize>> {
        r.iter().map(|&[a, b]| a..b).collect()
    }

    fn assert_splits(label: &str, got: &[Split], want: &[RefSplit]) {
        assert_eq!(got.len(), want.len(), "{label}: number of splits");
        for (s, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.train, to_ranges(&w.train), "{label}: split {s} train");
            assert_eq!(g.test, to_ranges(&w.test), "{label}: split {s} test");
        }
    }

    #[test]
    fn walk_forward_matches_skfolio() {
        for case in reference().walk_forward {
            let base = if case.anchored {
                WalkForwardSpec::anchored(case.train, case.test)
            } else {
                WalkForwardSpec::rolling(case.train, case.test)
            };
            let spec = base.with_gap(case.gap).with_reduce_test(case.reduce_test);
            let label = format!("walk_forward n={} {spec:?}", case.n);
            assert_splits(&label, &walk_forward(case.n, spec).unwrap(), &case.splits);
            // An explicit step equal to the test length is the default.
            assert_eq!(walk_forward(case.n, spec.with_step(case.test)), walk_forward(case.n, spec), "{label}");
        }
    }

    #[test]
    fn purged_kfold_matches_sklearn_and_afml() {
        for case in reference().purged_kfold {
            let got = purged_kfold(case.n, case.k, &case.label_end, case.embargo).unwrap();
            assert_splits(&format!("purged_kfold {} n={} k={}", case.source, case.n, case.k), &got, &case.splits);
        }
    }

    #[test]
    fn cpcv_matches_skfolio_and_afml() {
        for case in reference().cpcv {
            let label = format!("cpcv {} n={} N={} k={}", case.source, case.n, case.n_groups, case.n_test_groups);
            let got = cpcv(case.n, case.n_groups, case.n_test_groups, &case.label_end, case.embargo).unwrap();
            assert_eq!(got.groups, to_ranges(&case.groups), "{label}: groups");
            assert_eq!(got.test_groups, case.test_groups, "{label}: test groups");
            assert_eq!(got.path_ids, case.path_ids, "{label}: path ids");
            assert_eq!(got.paths.len(), case.n_paths, "{label}: number of paths");
            assert_splits(&label, &got.splits, &case.splits);
            // The paths are the skfolio path ids read the other way round.
            for (s, ids) in case.path_ids.iter().enumerate() {
                for (j, &p) in ids.iter().enumerate() {
                    let group = got.groups[case.test_groups[s][j]].clone();
                    assert!(got.paths[p].contains(&(s, group)), "{label}: path {p} lacks split {s} group {j}");
                }
            }
        }
    }

    #[test]
    fn fixed_horizon_label_ends_and_embargo_fraction() {
        assert_eq!(fixed_horizon_label_end(5, 2), vec![2, 3, 4, 4, 4]);
        assert_eq!(fixed_horizon_label_end(3, 0), vec![0, 1, 2]);
        assert!(fixed_horizon_label_end(0, 3).is_empty());
        // AFML Snippet 7.2 floors n * pctEmbargo.
        assert_eq!(embargo_bars(1000, 0.01).unwrap(), 10);
        assert_eq!(embargo_bars(999, 0.01).unwrap(), 9);
        assert_eq!(embargo_bars(50, 0.0).unwrap(), 0);
    }

    #[test]
    fn walk_forward_step_and_modes() {
        // Overlapping test windows with step 2; rolling training keeps its length, anchored grows from 0.
        let rolling = walk_forward(20, WalkForwardSpec::rolling(5, 4).with_step(2).with_gap(1)).unwrap();
        let tests: Vec<_> = rolling.iter().map(|s| s.test[0].clone()).collect();
        assert_eq!(tests, vec![6..10, 8..12, 10..14, 12..16, 14..18, 16..20]);
        for s in &rolling {
            assert_eq!(s.train, vec![s.test[0].start - 1 - 5..s.test[0].start - 1]);
        }
        let anchored = walk_forward(20, WalkForwardSpec::anchored(5, 4).with_step(2).with_gap(1)).unwrap();
        for s in &anchored {
            assert_eq!(s.train, vec![0..s.test[0].start - 1]);
        }
        // reduce_test keeps one short final window when the last step overshoots.
        let short = walk_forward(21, WalkForwardSpec::rolling(5, 4).with_step(3).with_reduce_test(true)).unwrap();
        let tests: Vec<_> = short.iter().map(|s| s.test[0].clone()).collect();
        assert_eq!(tests, vec![5..9, 8..12, 11..15, 14..18, 17..21]);
        let short = walk_forward(22, WalkForwardSpec::rolling(5, 4).with_step(3).with_reduce_test(true)).unwrap();
        assert_eq!(short.last().unwrap().test, vec![20..22]);
    }

    #[test]
    fn split_accessors() {
        let s = Split { train: vec![0..2, 5..7], test: vec![2..4] };
        assert_eq!(s.train_indices().collect::<Vec<_>>(), vec![0, 1, 5, 6]);
        assert_eq!(s.test_indices().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!((s.train_len(), s.test_len()), (4, 2));
    }

    fn message(e: ValidationError) -> String {
        e.to_string()
    }

    #[test]
    fn bad_input_is_rejected_with_clear_errors() {
        let wf = |n, spec| walk_forward(n, spec).unwrap_err().to_string();
        assert!(wf(100, WalkForwardSpec::rolling(0, 5)).contains("`train`"));
        assert!(wf(100, WalkForwardSpec::rolling(5, 0)).contains("`test`"));
        assert!(wf(100, WalkForwardSpec::rolling(5, 5).with_step(0)).contains("`step`"));
        let too_short = wf(10, WalkForwardSpec::rolling(5, 5).with_gap(1));
        assert!(too_short.contains("`n`") && too_short.contains("10 bars"), "{too_short}");
        assert!(walk_forward(0, WalkForwardSpec::rolling(1, 1)).is_err());
        // With reduce_test a single short test window is enough.
        assert_eq!(
            walk_forward(7, WalkForwardSpec::rolling(5, 5).with_gap(1).with_reduce_test(true)).unwrap().len(),
            1
        );
        // Absurd sizes neither overflow nor loop.
        let huge = WalkForwardSpec::rolling(5, usize::MAX).with_step(usize::MAX).with_reduce_test(true);
        assert_eq!(walk_forward(10, huge).unwrap()[0].test, vec![5..10]);
        assert!(walk_forward(10, WalkForwardSpec::rolling(usize::MAX, 1).with_gap(usize::MAX)).is_err());

        let le = fixed_horizon_label_end(10, 1);
        assert!(message(purged_kfold(10, 1, &le, 0).unwrap_err()).contains("`k`"));
        assert!(message(purged_kfold(3, 4, &le[..3], 0).unwrap_err()).contains("`n`"));
        assert!(message(purged_kfold(0, 2, &[], 0).unwrap_err()).contains("`n`"));
        assert!(message(purged_kfold(10, 2, &le[..9], 0).unwrap_err()).contains("9 entries"));
        let mut bad = le.clone();
        bad[4] = 3;
        assert_eq!(
            purged_kfold(10, 2, &bad, 0).unwrap_err(),
            ValidationError::LabelEnd {
                index: 4,
                reason: "3 must lie in [4, 9]: a label ends at or after its own bar".into()
            }
        );
        bad[4] = 10;
        assert!(matches!(purged_kfold(10, 2, &bad, 0), Err(ValidationError::LabelEnd { index: 4, .. })));
        // Labels spanning the whole sample leave nothing to train on.
        let all = vec![9; 10];
        assert_eq!(purged_kfold(10, 2, &all, 0).unwrap_err(), ValidationError::EmptyTrain { split: 0 });
        assert!(purged_kfold(10, 2, &le, 10).is_err(), "an embargo as long as the sample empties the first split");

        assert!(message(cpcv(10, 1, 1, &le, 0).unwrap_err()).contains("`n_groups`"));
        assert!(message(cpcv(10, 3, 3, &le, 0).unwrap_err()).contains("`n_test_groups`"));
        assert!(message(cpcv(10, 3, 0, &le, 0).unwrap_err()).contains("`n_test_groups`"));
        assert!(message(cpcv(2, 3, 1, &le[..2], 0).unwrap_err()).contains("`n`"));
        let long = fixed_horizon_label_end(1000, 0);
        let too_many = message(cpcv(1000, 40, 20, &long, 0).unwrap_err());
        assert!(too_many.contains("C(40, 20)") && too_many.contains("100000"), "{too_many}");
        assert!(matches!(cpcv(10, 5, 4, &all, 0), Err(ValidationError::EmptyTrain { .. })));
        assert!(message(embargo_bars(10, 1.0).unwrap_err()).contains("embargo fraction"));
        assert!(embargo_bars(10, -0.1).is_err() && embargo_bars(10, f64::NAN).is_err());
    }

    /// Label ends with random horizons in `0..=max_h`, clamped to the sample.
    fn label_ends(horizons: &[usize]) -> Vec<usize> {
        let n = horizons.len();
        horizons.iter().enumerate().map(|(i, h)| (i + h).min(n - 1)).collect()
    }

    fn span_overlap(a: usize, a_end: usize, b: usize, b_end: usize) -> bool {
        a <= b_end && b <= a_end
    }

    /// The purging and embargo contract, for any split: no leak, embargo respected, nothing removed needlessly.
    fn check_purging(n: usize, split: &Split, label_end: &[usize], embargo: usize) {
        let mut is_test = vec![false; n];
        split.test_indices().for_each(|i| is_test[i] = true);
        let mut is_train = vec![false; n];
        split.train_indices().for_each(|i| is_train[i] = true);
        let tests: Vec<usize> = (0..n).filter(|&j| is_test[j]).collect();
        for i in 0..n {
            assert!(!(is_train[i] && is_test[i]), "index {i} both train and test");
            if is_test[i] {
                continue;
            }
            // Embargo: a test label stretched by `embargo` bars; the train label must stay clear of it.
            let conflicts =
                tests.iter().any(|&j| span_overlap(i, label_end[i], j, (label_end[j] + embargo).min(n - 1)));
            let leaks = tests.iter().any(|&j| span_overlap(i, label_end[i], j, label_end[j]));
            if is_train[i] {
                assert!(!leaks, "train {i} (label to {}) overlaps a test label", label_end[i]);
                assert!(!conflicts, "train {i} sits inside an embargo");
            } else {
                assert!(conflicts, "index {i} was dropped from training without cause");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn purged_kfold_properties(
            horizons in prop::collection::vec(0usize..8, 30..120),
            k in 2usize..7,
            embargo in 0usize..5,
        ) {
            let n = horizons.len();
            let label_end = label_ends(&horizons);
            let Ok(splits) = purged_kfold(n, k, &label_end, embargo) else {
                return Ok(());
            };
            prop_assert_eq!(splits.len(), k);
            let mut tested = vec![0usize; n];
            for s in &splits {
                prop_assert_eq!(s.test.len(), 1);
                s.test_indices().for_each(|i| tested[i] += 1);
                check_purging(n, s, &label_end, embargo);
            }
            prop_assert!(tested.iter().all(|&c| c == 1), "every index is tested exactly once: {:?}", tested);
        }

        #[test]
        fn cpcv_properties(
            horizons in prop::collection::vec(0usize..6, 40..150),
            n_groups in 2usize..8,
            k_frac in 0.0f64..1.0,
            embargo in 0usize..4,
        ) {
            let n = horizons.len();
            let k = 1 + ((n_groups - 1) as f64 * k_frac) as usize % (n_groups - 1);
            let label_end = label_ends(&horizons);
            let Ok(cv) = cpcv(n, n_groups, k, &label_end, embargo) else {
                return Ok(());
            };
            let n_paths = binomial(n_groups as u64 - 1, k as u64 - 1).unwrap() as usize;
            prop_assert_eq!(cv.splits.len() * k, n_paths * n_groups);
            prop_assert_eq!(cv.paths.len(), n_paths);
            for s in &cv.splits {
                prop_assert_eq!(s.test.len(), k);
                check_purging(n, s, &label_end, embargo);
            }
            let mut uses = vec![0usize; cv.splits.len()];
            for path in &cv.paths {
                // Each path visits every group exactly once, in order, from a split that tests that group.
                let covered: Vec<Range<usize>> = path.iter().map(|(_, r)| r.clone()).collect();
                prop_assert_eq!(&covered, &cv.groups);
                for (s, r) in path {
                    prop_assert!(cv.splits[*s].test.contains(r));
                    uses[*s] += 1;
                }
            }
            // ... and every test group of every split lands on exactly one path.
            prop_assert!(uses.iter().all(|&u| u == k));
        }

        #[test]
        fn walk_forward_properties(
            n in 1usize..300,
            train in 1usize..60,
            test in 1usize..30,
            step in 1usize..40,
            gap in 0usize..5,
            anchored: bool,
            reduce_test: bool,
        ) {
            let base = if anchored { WalkForwardSpec::anchored(train, test) } else { WalkForwardSpec::rolling(train, test) };
            let spec = base.with_step(step).with_gap(gap).with_reduce_test(reduce_test);
            let Ok(splits) = walk_forward(n, spec) else {
                let min_test = if reduce_test { 1 } else { test };
                prop_assert!(n < train + gap + min_test);
                return Ok(());
            };
            prop_assert!(!splits.is_empty());
            for (i, s) in splits.iter().enumerate() {
                let (tr, te) = (s.train[0].clone(), s.test[0].clone());
                prop_assert_eq!(te.start, train + gap + i * step);
                prop_assert_eq!(tr.end + gap, te.start);
                prop_assert!(te.end <= n);
                prop_assert_eq!(tr.start, if anchored { 0 } else { tr.end - train });
                if te.len() < test {
                    prop_assert!(reduce_test && i + 1 == splits.len() && te.end == n);
                }
            }
            // No split was left out at the end.
            let last = splits.last().unwrap().test[0].clone();
            let next = last.start + step;
            prop_assert!(last.end == n || next >= n || (!reduce_test && next + test > n));
        }
    }
}
