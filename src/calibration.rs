//! Choosing a threshold from data, as NIST FRVT reports operating points: the impostor scores fix
//! the threshold for a target false-match rate (FMR), and the genuine scores give the
//! false-non-match rate (FNMR) there. Pure functions over scores; `cli::calibrate` feeds them.

pub mod fairness;
pub mod interval;
pub mod per_identity;
mod points;

pub use points::{OperatingPoint, Pair, Scores, SplitMix64, TARGETS, pairs};

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> Scores {
        Scores {
            genuine: vec![0.9, 0.8, 0.7, 0.6, 0.3],
            impostor: (0..3000).map(|i| i as f32 / 3000.0 * 0.5).collect(), // 0.0 .. 0.49983
        }
    }

    #[test]
    fn the_threshold_at_a_target_fmr_gives_at_most_that_fmr_and_is_the_lowest_that_does() {
        let s = scores();
        let p = s.at_fmr(1e-2);
        assert!(p.fmr <= 1e-2 && p.supported);
        assert!(s.rates(p.threshold.next_down()).0 > 1e-2, "one step lower is over the target");
        assert_eq!(p.fnmr, 0.2, "0.3 is below it");
        let tight = s.at_fmr(1e-3);
        assert!(!tight.supported, "3 false matches in 3,000 cannot vouch for 1e-3: {:?}", tight.fmr_interval);
        assert!(tight.fmr_interval.upper > 2e-3);
        assert_eq!(tight.impostors_needed, 30_000);
        assert!(p.fmr_interval.lower < p.fmr && p.fmr < p.fmr_interval.upper);
    }

    #[test]
    fn the_equal_error_rate_is_where_both_errors_meet() {
        let s = Scores { genuine: vec![0.6, 0.7, 0.8, 0.2], impostor: vec![0.1, 0.2, 0.3, 0.65] };
        let (eer, t) = s.eer();
        assert_eq!(eer, 0.25);
        let (fmr, fnmr) = s.rates(t);
        assert_eq!((fmr, fnmr), (0.25, 0.25));
    }

    #[test]
    fn pairs_are_complete_or_a_reproducible_sample() {
        let ids = [0, 0, 1, 1, 2];
        let (genuine, impostor) = pairs(&ids, 100, 1);
        assert_eq!((genuine.len(), impostor.len()), (2, 8));
        let (_, sample) = pairs(&ids, 3, 7);
        assert_eq!(sample.len(), 3);
        assert_eq!(sample, pairs(&ids, 3, 7).1, "same seed, same sample");
        assert!(sample.iter().all(|(a, b)| ids[*a] != ids[*b]));
    }
}
