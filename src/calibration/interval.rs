//! How sure an error rate is: the exact (Clopper–Pearson) 95 % interval of a binomial proportion,
//! as ISO/IEC 19795-1 recommends for biometric error rates.
//!
//! The bounds are quantiles of Beta distributions (Clopper & Pearson, Biometrika 1934): for k errors
//! in n trials, lower = B(α/2; k, n−k+1) and upper = B(1−α/2; k+1, n−k). The regularised incomplete
//! beta function is evaluated with its continued fraction (Lentz's method) and inverted by
//! bisection, which is plenty fast for the handful of rows a report prints.

/// A proportion with its two-sided 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rate {
    pub errors: usize,
    pub trials: usize,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error < 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = C[1..].iter().enumerate().fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            d = if d.abs() < TINY { TINY } else { d };
            c = 1.0 + aa / c;
            c = if c.abs() < TINY { TINY } else { c };
            d = 1.0 / d;
            h *= d * c;
            if aa == 0.0 {
                break;
            }
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// I_x(a, b), the regularised incomplete beta function: the Beta(a, b) distribution's CDF at x.
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast on this side of the mean; use the symmetry on the other.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The p-quantile of Beta(a, b), by bisection (the CDF is monotone).
fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if beta_cdf(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 * hi.max(1e-300) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// `errors` in `trials`, with its exact 95 % interval. No error seen: the upper bound is the
/// one-sided 95 % bound, 1 − 0.05^(1/n) ≈ 3/n (the rule of three).
pub fn clopper_pearson(errors: usize, trials: usize) -> Rate {
    if trials == 0 {
        return Rate { errors, trials, value: 0.0, lower: 0.0, upper: 1.0 };
    }
    let (k, n) = (errors as f64, trials as f64);
    let lower = if errors == 0 { 0.0 } else { beta_quantile(0.025, k, n - k + 1.0) };
    let upper = match errors {
        0 => 1.0 - 0.05f64.powf(1.0 / n),
        e if e == trials => 1.0,
        _ => beta_quantile(0.975, k + 1.0, n - k),
    };
    Rate { errors, trials, value: k / n, lower, upper }
}

/// ISO/IEC 19795-1's rule of 30: for 90 % confidence that the true rate is within ±30 % of the
/// observed one, about 30 errors must be seen, so a target rate p needs 30 / p trials.
pub fn trials_needed(target: f64) -> u64 {
    (30.0 / target).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn the_incomplete_beta_function_matches_known_values() {
        // I_x(1, 1) = x; I_x(2, 3) = 6x²/2 − 8x³/3·… checked against its closed form.
        assert!(close(beta_cdf(0.3, 1.0, 1.0), 0.3, 1e-12));
        let x: f64 = 0.4;
        let closed = 6.0 * x.powi(2) - 8.0 * x.powi(3) + 3.0 * x.powi(4);
        assert!(close(beta_cdf(x, 2.0, 3.0), closed, 1e-12));
        assert!(close(beta_cdf(0.9, 3.0, 2.0), 1.0 - beta_cdf(0.1, 2.0, 3.0), 1e-12));
    }

    #[test]
    fn intervals_match_published_clopper_pearson_bounds() {
        // 5 of 10: the textbook exact interval is [0.1871, 0.8129].
        let r = clopper_pearson(5, 10);
        assert!(close(r.lower, 0.187_086, 1e-4) && close(r.upper, 0.812_914, 1e-4), "{r:?}");
        // 14 of 8,849 (the old MobileFaceNet figure): roughly 8.6e-4 to 2.7e-3.
        let r = clopper_pearson(14, 8849);
        assert!(r.lower > 8.0e-4 && r.lower < 9.5e-4 && r.upper > 2.5e-3 && r.upper < 2.9e-3, "{r:?}");
        // No error in 300,000: the rule of three, 1e-5.
        let r = clopper_pearson(0, 300_000);
        assert!(close(r.upper, 3.0 / 300_000.0, 0.01), "{r:?}");
        assert_eq!(clopper_pearson(10, 10).upper, 1.0);
    }

    #[test]
    fn a_target_needs_thirty_errors_worth_of_trials() {
        assert_eq!(trials_needed(1e-4), 300_000);
        assert_eq!(trials_needed(1e-2), 3_000);
    }
}
