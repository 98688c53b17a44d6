//! Hand-computed cases: every count, rate and ratio below can be checked on paper.

use super::*;

fn photo(labels: &[&str], identity: Option<&str>, verify: Option<&'static str>) -> Photo {
    Photo {
        labels: labels.iter().map(|s| s.to_string()).collect(),
        identity: identity.map(str::to_string),
        verify,
        enrol: verify,
    }
}

/// Four photos, two groups by `g`; the scores are given per pair.
fn four() -> (Vec<String>, Vec<Photo>) {
    let columns = vec!["g".to_string()];
    let photos = vec![
        photo(&["a"], None, None),
        photo(&["a"], None, None),
        photo(&["b"], None, None),
        photo(&["b"], None, None),
    ];
    (columns, photos)
}

fn score(a: usize, b: usize) -> f32 {
    // Only (0,1), within a, and (1,2), across a and b, reach 0.5.
    match (a.min(b), a.max(b)) {
        (0, 1) | (1, 2) => 0.9,
        _ => 0.1,
    }
}

#[test]
fn rates_within_and_across_groups_are_counted_by_hand() {
    let (columns, photos) = four();
    let r = report(&columns, &photos, &score, 0.5, 1e-4);
    // Overall: 6 impostor pairs, 2 at or above 0.5.
    assert_eq!((r.overall.fmr_within.errors, r.overall.fmr_within.trials), (2, 6));
    let g = &r.combinations[0].groups;
    assert_eq!(g[0].group, "g=a");
    assert_eq!((g[0].fmr_within.errors, g[0].fmr_within.trials), (1, 1), "(0,1)");
    assert_eq!((g[1].fmr_within.errors, g[1].fmr_within.trials), (0, 1), "(2,3)");
    // Across: a's photos against b's: (0,2) (0,3) (1,2) (1,3), one false match.
    assert_eq!((g[0].fmr_across.errors, g[0].fmr_across.trials), (1, 4));
    assert_eq!((g[1].fmr_across.errors, g[1].fmr_across.trials), (1, 4));
    // Differentials: a's within-FMR 1.0 over the overall 1/3; max over min undefined (b has 0).
    assert_eq!(g[0].fmr_within_differential.over_overall, Some(3.0));
    assert_eq!(g[1].fmr_within_differential.over_overall, Some(0.0));
    assert_eq!(r.combinations[0].fmr_within_max_over_min, None);
    // Intervals are Clopper–Pearson's: 2 in 6.
    assert_eq!(r.overall.fmr_within, clopper_pearson(2, 6));
    assert!(g[0].fnmr.is_none(), "no identities, no FNMR");
}

#[test]
fn refusals_are_counted_by_reason_and_left_out_of_comparisons() {
    let columns = vec!["g".to_string()];
    let photos = vec![
        photo(&["a"], None, Some("no_face")),
        photo(&["a"], None, None),
        photo(&["a"], None, None),
        photo(&["b"], None, Some("face_too_small")),
        photo(&["b"], None, None),
    ];
    let r = report(&columns, &photos, &|_, _| 0.0, 0.5, 1e-4);
    let a = &r.combinations[0].groups[0];
    assert_eq!((a.not_detected.errors, a.not_detected.trials), (1, 3));
    assert_eq!(a.not_detected_by_code.get("no_face"), Some(&1));
    assert_eq!(a.fmr_within.trials, 1, "only the two usable photos are compared");
    assert_eq!(r.overall.fmr_within.trials, 3, "three usable photos: three pairs");
    // a refuses 1/3, b 1/2: the highest over the lowest is 1.5.
    let ratio = r.combinations[0].not_detected_max_over_min.unwrap();
    assert!((ratio - 1.5).abs() < 1e-12);
}

#[test]
fn identities_give_false_non_match_rates_and_combinations_cover_every_subset() {
    let columns = vec!["age".to_string(), "gender".to_string()];
    let photos = vec![
        photo(&["young", "f"], Some("p1"), None),
        photo(&["young", "f"], Some("p1"), None),
        photo(&["old", "m"], Some("p2"), None),
        photo(&["old", "m"], Some("p2"), None),
    ];
    // p1's pair scores 0.9 (a match), p2's 0.2 (a miss); impostors 0.1.
    let score = |a: usize, b: usize| match (a.min(b), a.max(b)) {
        (0, 1) => 0.9,
        (2, 3) => 0.2,
        _ => 0.1,
    };
    let r = report(&columns, &photos, &score, 0.5, 1e-4);
    let fnmr = r.overall.fnmr.unwrap();
    assert_eq!((fnmr.errors, fnmr.trials), (1, 2));
    assert_eq!((r.overall.fmr_within.errors, r.overall.fmr_within.trials), (0, 4), "genuine pairs are not impostors");
    let names: Vec<Vec<String>> = r.combinations.iter().map(|c| c.columns.clone()).collect();
    assert_eq!(
        names,
        [vec!["age".to_string()], vec!["gender".to_string()], vec!["age".to_string(), "gender".to_string()]]
    );
    let pairs = &r.combinations[2].groups;
    assert!(natural("3-9") < natural("10-19") && natural("70+") > natural("60-69"));
    assert_eq!(
        pairs.iter().map(|g| g.group.as_str()).collect::<Vec<_>>(),
        ["age=old, gender=m", "age=young, gender=f"]
    );
    assert_eq!(pairs[0].fnmr.unwrap().value, 1.0);
    assert_eq!(pairs[0].fnmr_differential.unwrap().over_overall, Some(2.0));
}
