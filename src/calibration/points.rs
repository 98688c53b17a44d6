//! Operating points from scores: the threshold a target FMR needs on the impostor scores, the FNMR
//! there, both with their intervals; the pairs a labelled set gives.

/// Similarity scores of genuine (same person) and impostor (different people) comparisons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub genuine: Vec<f32>,
    pub impostor: Vec<f32>,
}

/// One row of the operating-point table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OperatingPoint {
    pub target_fmr: f64,
    /// The lowest threshold whose FMR on these impostors is at most the target.
    pub threshold: f32,
    /// FMR and FNMR measured at that threshold.
    pub fmr: f64,
    pub fnmr: f64,
    /// Each with its exact 95 % interval (Clopper–Pearson; the rule of three with no error).
    pub fmr_interval: super::interval::Rate,
    pub fnmr_interval: super::interval::Rate,
    /// The data can vouch for the target: the FMR's upper bound is under twice the target.
    pub supported: bool,
    /// Impostor comparisons the target needs by ISO/IEC 19795-1's rule of 30.
    pub impostors_needed: u64,
}

/// The targets the table reports.
pub const TARGETS: [f64; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

fn rate(count: usize, total: usize) -> f64 {
    if total == 0 { 0.0 } else { count as f64 / total as f64 }
}

impl Scores {
    /// FMR (impostors at or above `t`) and FNMR (genuine below `t`).
    pub fn rates(&self, t: f32) -> (f64, f64) {
        let (fm, fnm) = self.errors(t);
        (rate(fm, self.impostor.len()), rate(fnm, self.genuine.len()))
    }

    /// False matches and false non-matches at `t`.
    pub fn errors(&self, t: f32) -> (usize, usize) {
        (self.impostor.iter().filter(|s| **s >= t).count(), self.genuine.iter().filter(|s| **s < t).count())
    }

    /// FMR and FNMR at `t`, each with its 95 % interval.
    pub fn intervals(&self, t: f32) -> (super::interval::Rate, super::interval::Rate) {
        let (fm, fnm) = self.errors(t);
        (
            super::interval::clopper_pearson(fm, self.impostor.len()),
            super::interval::clopper_pearson(fnm, self.genuine.len()),
        )
    }

    pub fn at_fmr(&self, target: f64) -> OperatingPoint {
        let mut impostor = self.impostor.clone();
        impostor.sort_by(|a, b| b.total_cmp(a));
        // At most `allowed` impostors may reach the threshold: it sits just above the next one.
        let allowed = (target * impostor.len() as f64).floor() as usize;
        let threshold = match impostor.get(allowed) {
            Some(score) => score.next_up(),
            None => impostor.last().copied().unwrap_or(-1.0),
        };
        let (fmr_interval, fnmr_interval) = self.intervals(threshold);
        OperatingPoint {
            target_fmr: target,
            threshold,
            fmr: fmr_interval.value,
            fnmr: fnmr_interval.value,
            fmr_interval,
            fnmr_interval,
            supported: !impostor.is_empty() && fmr_interval.upper < 2.0 * target,
            impostors_needed: super::interval::trials_needed(target),
        }
    }

    /// The equal error rate and where it is: the threshold where FMR and FNMR are closest, and their mean.
    pub fn eer(&self) -> (f64, f32) {
        let mut candidates: Vec<f32> = self.genuine.iter().chain(&self.impostor).copied().collect();
        candidates.sort_by(f32::total_cmp);
        candidates.dedup();
        let (mut genuine, mut impostor) = (self.genuine.clone(), self.impostor.clone());
        genuine.sort_by(f32::total_cmp);
        impostor.sort_by(f32::total_cmp);
        let (mut best, mut at) = ((f64::MAX, 0.0), 0.0f32);
        // Sweep upwards: both sorted lists are walked once.
        let (mut g, mut i) = (0, 0);
        for t in candidates {
            while g < genuine.len() && genuine[g] < t {
                g += 1;
            }
            while i < impostor.len() && impostor[i] < t {
                i += 1;
            }
            let (fnmr, fmr) = (rate(g, genuine.len()), rate(impostor.len() - i, impostor.len()));
            if (fmr - fnmr).abs() < best.0 {
                best = ((fmr - fnmr).abs(), (fmr + fnmr) / 2.0);
                at = t;
            }
        }
        (best.1, at)
    }

    /// (FMR, FNMR) along the thresholds, for a DET curve: at most `points` of them.
    pub fn det(&self, points: usize) -> Vec<(f64, f64)> {
        self.det_thresholds(points).into_iter().map(|t| self.rates(t)).collect()
    }

    /// The DET curve with each point's FNMR interval: (FMR, FNMR, FNMR lower, FNMR upper).
    pub fn det_band(&self, points: usize) -> Vec<(f64, f64, f64, f64)> {
        self.det_thresholds(points)
            .into_iter()
            .map(|t| {
                let (fmr, fnmr) = self.intervals(t);
                (fmr.value, fnmr.value, fnmr.lower, fnmr.upper)
            })
            .collect()
    }

    fn det_thresholds(&self, points: usize) -> Vec<f32> {
        let mut all: Vec<f32> = self.genuine.iter().chain(&self.impostor).copied().collect();
        all.sort_by(f32::total_cmp);
        let step = (all.len() / points.max(1)).max(1);
        all.into_iter().step_by(step).collect()
    }
}

/// A small deterministic generator (SplitMix64), so a sample of impostor pairs is the same on
/// every run with the same seed.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Indices of the two photos compared.
pub type Pair = (usize, usize);

/// Every same-identity pair, and every cross-identity pair, or a reproducible sample of
/// `max_impostors` of them when there are more (Floyd's algorithm over the pair indices).
pub fn pairs(identities: &[usize], max_impostors: usize, seed: u64) -> (Vec<Pair>, Vec<Pair>) {
    let n = identities.len();
    let mut genuine = Vec::new();
    let mut cross = 0usize;
    for a in 0..n {
        for b in a + 1..n {
            if identities[a] == identities[b] {
                genuine.push((a, b));
            } else {
                cross += 1;
            }
        }
    }
    let all_cross =
        || (0..n).flat_map(move |a| (a + 1..n).map(move |b| (a, b))).filter(|(a, b)| identities[*a] != identities[*b]);
    if cross <= max_impostors {
        return (genuine, all_cross().collect());
    }
    let mut rng = SplitMix64::new(seed);
    let mut chosen = std::collections::BTreeSet::new();
    for j in cross - max_impostors..cross {
        let pick = rng.below(j + 1);
        if !chosen.insert(pick) {
            chosen.insert(j);
        }
    }
    let impostor = all_cross().enumerate().filter(|(k, _)| chosen.contains(k)).map(|(_, p)| p).collect();
    (genuine, impostor)
}
