//! FNMR as a person meets it: every identity weighted equally, not every pair.
//!
//! A genuine pair is one comparison, but people are not photographed equally: on held-out LFW one
//! man holds more than half of all genuine pairs, so the per-pair FNMR is mostly his. Weighting each
//! identity's own FNMR equally (the mean over identities of the share of that identity's genuine
//! pairs refused) answers "how often is a user refused". Its 95 % interval is Clopper–Pearson at
//! Kish's effective sample size, n_eff = (Σw)² / Σw² with weight 1/n_i on each of identity i's
//! n_i pairs (Kish, Survey Sampling, 1965): with equal weights n_eff is the pair count; with one
//! identity holding most pairs it shrinks toward the number of identities, and the interval widens
//! as it should.
//!
//! Identities come from the labels where there are any; for a list of pairs without labels,
//! photos joined by a genuine pair are taken as one person ([`identities_from_pairs`]).

use super::interval::{Rate, clopper_pearson};

/// Identity-weighted FNMR at `threshold`: `genuine` holds each genuine pair's score and identity.
pub fn fnmr(genuine: &[(f32, usize)], threshold: f32) -> Rate {
    let mut per: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
    for &(score, identity) in genuine {
        let entry = per.entry(identity).or_default();
        entry.0 += usize::from(score < threshold);
        entry.1 += 1;
    }
    let identities = per.len();
    if identities == 0 {
        return clopper_pearson(0, 0);
    }
    let value = per.values().map(|&(refused, pairs)| refused as f64 / pairs as f64).sum::<f64>() / identities as f64;
    // Σw = identities (each identity's weights sum to 1); Σw² = Σ 1/n_i.
    let n_eff = (identities as f64).powi(2) / per.values().map(|&(_, pairs)| 1.0 / pairs as f64).sum::<f64>();
    let trials = n_eff.round().max(1.0) as usize;
    let errors = ((value * n_eff).round() as usize).min(trials);
    let bounds = clopper_pearson(errors, trials);
    Rate {
        errors: per.values().map(|&(refused, _)| refused).sum(),
        trials: genuine.len(),
        value,
        lower: bounds.lower.min(value),
        upper: bounds.upper.max(value),
    }
}

/// One identity per photo for pairs without labels: the connected components of the genuine pairs
/// (union-find), numbered in order of first appearance.
pub fn identities_from_pairs(photos: usize, genuine: &[(usize, usize)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..photos).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &(a, b) in genuine {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    (0..photos).map(|x| root(&mut parent, x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_much_photographed_identity_does_not_dominate() {
        // Identity 0: 90 pairs, none refused. Identities 1-9: one pair each, all refused.
        let mut genuine: Vec<(f32, usize)> = (0..90).map(|_| (0.9, 0)).collect();
        genuine.extend((1..10).map(|i| (0.1, i)));
        let per_pair = 9.0 / 99.0;
        let weighted = fnmr(&genuine, 0.5);
        assert!((weighted.value - 0.9).abs() < 1e-12, "{weighted:?}");
        assert!(weighted.value > 9.0 * per_pair);
        // n_eff = 100 / (1/90 + 9) ≈ 11: the interval is as wide as ten identities allow.
        assert!(weighted.lower < 0.7 && weighted.upper > 0.95, "{weighted:?}");
        assert_eq!((weighted.errors, weighted.trials), (9, 99));
    }

    #[test]
    fn with_one_pair_each_it_is_the_per_pair_rate() {
        let genuine: Vec<(f32, usize)> = (0..20).map(|i| (if i < 3 { 0.1 } else { 0.9 }, i)).collect();
        let weighted = fnmr(&genuine, 0.5);
        let plain = clopper_pearson(3, 20);
        assert!((weighted.value - plain.value).abs() < 1e-12);
        assert!((weighted.lower - plain.lower).abs() < 1e-12 && (weighted.upper - plain.upper).abs() < 1e-12);
        assert_eq!(fnmr(&[], 0.5).value, 0.0);
    }

    #[test]
    fn photos_joined_by_genuine_pairs_are_one_identity() {
        let ids = identities_from_pairs(6, &[(0, 1), (1, 2), (4, 5)]);
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[4], ids[5]);
        assert_ne!(ids[0], ids[3]);
        assert_ne!(ids[3], ids[4]);
    }
}
