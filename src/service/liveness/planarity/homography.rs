//! The least-squares homography between two point sets (normalised DLT, Hartley & Zisserman §4.4):
//! the geometry the planarity check stands on, nothing of liveness.

/// A 3×3 homography, row-major.
pub type Homography = [f64; 9];

pub fn apply(h: &Homography, [x, y]: [f64; 2]) -> Option<[f64; 2]> {
    let w = h[6] * x + h[7] * y + h[8];
    if w.abs() < 1e-12 {
        return None;
    }
    Some([(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w])
}

/// The least-squares homography from `src` to `dst`: the normalised direct linear transform
/// (each set moved to its centroid and scaled to a mean distance of √2 first, so the algebraic
/// error weighs every point alike), `None` for degenerate points.
pub fn homography(src: &[[f64; 2]], dst: &[[f64; 2]]) -> Option<Homography> {
    let (ts, tn) = (normalising(src)?, normalising(dst)?);
    let mut ata = [[0.0f64; 9]; 9];
    for (s, d) in src.iter().zip(dst) {
        let [x, y] = affine(&ts, *s);
        let [u, v] = affine(&tn, *d);
        for row in [[-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u], [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v]] {
            for i in 0..9 {
                for j in 0..9 {
                    ata[i][j] += row[i] * row[j];
                }
            }
        }
    }
    let n = smallest_eigenvector(ata);
    // H = Tdst⁻¹ · N · Tsrc, with T = [s 0 −s·cx; 0 s −s·cy; 0 0 1].
    let [s1, cx1, cy1] = ts;
    let [s2, cx2, cy2] = tn;
    let t_src = [s1, 0.0, -s1 * cx1, 0.0, s1, -s1 * cy1, 0.0, 0.0, 1.0];
    let t_dst_inv = [1.0 / s2, 0.0, cx2, 0.0, 1.0 / s2, cy2, 0.0, 0.0, 1.0];
    let h = multiply(&t_dst_inv, &multiply(&n, &t_src));
    h.iter().all(|v| v.is_finite()).then_some(h)
}

/// `[scale, cx, cy]`: the points' centroid, and the scale that brings their mean distance from it to √2.
fn normalising(points: &[[f64; 2]]) -> Option<[f64; 3]> {
    let n = points.len() as f64;
    let (cx, cy) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0] / n, y + p[1] / n));
    let mean = points.iter().map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()).sum::<f64>() / n;
    (mean.is_finite() && mean > 1e-9).then_some([std::f64::consts::SQRT_2 / mean, cx, cy])
}

fn affine([s, cx, cy]: &[f64; 3], p: [f64; 2]) -> [f64; 2] {
    [s * (p[0] - cx), s * (p[1] - cy)]
}

fn multiply(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut out = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            out[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
        }
    }
    out
}

/// The unit eigenvector of a symmetric 9×9 matrix with the smallest eigenvalue (cyclic Jacobi
/// rotations: a handful of sweeps reach double precision at this size).
fn smallest_eigenvector(mut a: [[f64; 9]; 9]) -> [f64; 9] {
    let mut v = [[0.0f64; 9]; 9];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..50 {
        let off: f64 = (0..9)
            .flat_map(|i| (0..9).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..9 {
            for q in p + 1..9 {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                // A ← Jᵀ·A·J: columns p and q, then rows p and q.
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (upper, lower) = a.split_at_mut(q);
                for (apk, aqk) in upper[p].iter_mut().zip(lower[0].iter_mut()) {
                    let (x, y) = (*apk, *aqk);
                    *apk = c * x - s * y;
                    *aqk = s * x + c * y;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    let k = (0..9).min_by(|&i, &j| a[i][i].total_cmp(&a[j][j])).expect("nine eigenvalues");
    std::array::from_fn(|i| v[i][k])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_known_homography() {
        let h: Homography = [1.1, 0.2, 5.0, -0.1, 0.9, -3.0, 1e-4, -2e-4, 1.0];
        let src: Vec<[f64; 2]> = (0..30).map(|i| [(i % 6) as f64 * 17.0 + 3.0, (i / 6) as f64 * 23.0 - 7.0]).collect();
        let dst: Vec<[f64; 2]> = src.iter().map(|&p| apply(&h, p).unwrap()).collect();
        let fitted = homography(&src, &dst).unwrap();
        for (s, d) in src.iter().zip(&dst) {
            let p = apply(&fitted, *s).unwrap();
            assert!((p[0] - d[0]).abs() < 1e-6 && (p[1] - d[1]).abs() < 1e-6, "{p:?} vs {d:?}");
        }
        assert!(homography(&vec![[1.0, 1.0]; 20], &vec![[2.0, 2.0]; 20]).is_none());
    }
}
