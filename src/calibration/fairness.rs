//! Per-group error rates, as ISO/IEC 19795-10:2024 asks them reported: for every group of every
//! combination of label columns, the refusals before comparison (detection, the enrolment quality
//! gate, with their reasons), the false-match rate at the deployed threshold within the group and
//! against everyone outside it, the threshold the group alone would need for the target FMR, and
//! the false-non-match rate where identities are known; each with its 95 % interval, and the
//! differentials (a group's rate over the overall rate; the highest group's over the lowest's).
//! Pure functions over outcomes and scores; `cli::fairness` feeds them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::interval::{Rate, clopper_pearson};
use super::points::Scores;

/// One photo: its labels (one value per column, in the columns' order), who it shows when known,
/// and what the pipeline made of it as a probe (`verify`) and as a reference (`enrol`): `None`
/// when it was used, the refusal's code when not.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub labels: Vec<String>,
    pub identity: Option<String>,
    pub verify: Option<&'static str>,
    pub enrol: Option<&'static str>,
}

/// A rate's relation to the overall rate and to the other groups of its combination.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Differential {
    /// The group's rate over the overall rate (`None` when the overall rate is 0).
    pub over_overall: Option<f64>,
}

/// The rates of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRates {
    /// `column=value` for each column of the combination, joined by ", "; "all" for everyone.
    pub group: String,
    pub photos: usize,
    /// Probes the pipeline could not use (no face, too small, several faces), by code.
    pub not_detected: Rate,
    pub not_detected_by_code: BTreeMap<&'static str, usize>,
    /// Photos the enrolment gate refused (detection and quality: dark, blurry, not frontal …), by code.
    pub enrol_refused: Rate,
    pub enrol_refused_by_code: BTreeMap<&'static str, usize>,
    /// Impostor comparisons within the group at or above the threshold.
    pub fmr_within: Rate,
    /// Impostor comparisons of the group's photos with everyone else's.
    pub fmr_across: Rate,
    /// The lowest threshold at which the group's own impostors stay within the target FMR, and
    /// whether its comparisons can vouch for it (the FMR's upper bound under twice the target).
    pub threshold_needed: f32,
    pub threshold_needed_supported: bool,
    /// The FNMR with every identity weighted equally (`calibration::per_identity`).
    pub fnmr_identities_equal: Option<Rate>,
    /// Same-identity comparisons under the threshold (`None` without identities).
    pub fnmr: Option<Rate>,
    pub fmr_within_differential: Differential,
    pub not_detected_differential: Differential,
    pub enrol_refused_differential: Differential,
    pub fnmr_differential: Option<Differential>,
}

/// One combination of columns (`age`, `gender`, `age, gender`) and its groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Combination {
    pub columns: Vec<String>,
    pub groups: Vec<GroupRates>,
    /// The highest group rate over the lowest (`None` when the lowest is 0), per rate.
    pub fmr_within_max_over_min: Option<f64>,
    pub not_detected_max_over_min: Option<f64>,
    pub enrol_refused_max_over_min: Option<f64>,
    pub fnmr_max_over_min: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub threshold: f32,
    pub target_fmr: f64,
    pub overall: GroupRates,
    pub combinations: Vec<Combination>,
}

fn ratio(value: f64, base: f64) -> Option<f64> {
    (base > 0.0).then(|| value / base)
}

fn max_over_min(rates: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let max = rates.clone().fold(f64::NAN, f64::max);
    let min = rates.fold(f64::NAN, f64::min);
    ratio(max, min)
}

/// Who is in a group: a membership flag per photo.
fn rates_of(
    name: String,
    member: &[bool],
    photos: &[Photo],
    score: &dyn Fn(usize, usize) -> f32,
    threshold: f32,
    target_fmr: f64,
) -> GroupRates {
    let n = photos.len();
    let members: Vec<usize> = (0..n).filter(|i| member[*i]).collect();
    let mut not_detected_by_code = BTreeMap::new();
    let mut enrol_refused_by_code = BTreeMap::new();
    for &i in &members {
        if let Some(code) = photos[i].verify {
            *not_detected_by_code.entry(code).or_insert(0) += 1;
        }
        if let Some(code) = photos[i].enrol {
            *enrol_refused_by_code.entry(code).or_insert(0) += 1;
        }
    }
    let usable = |i: usize| photos[i].verify.is_none();
    // Every photo is its own person unless the labels say who it shows.
    let same_person = |a: usize, b: usize| match (&photos[a].identity, &photos[b].identity) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    };
    let (mut within, mut genuine) = (Vec::new(), Vec::new());
    // Each genuine pair's identity, numbered, for the FNMR with every person weighted equally.
    let mut people: BTreeMap<&str, usize> = BTreeMap::new();
    let mut genuine_people = Vec::new();
    let (mut across_false, mut across) = (0usize, 0usize);
    for (k, &a) in members.iter().enumerate().filter(|(_, a)| usable(**a)) {
        for &b in members[k + 1..].iter().filter(|b| usable(**b)) {
            let s = score(a, b);
            if same_person(a, b) {
                genuine.push(s);
                let person = photos[a].identity.as_deref().unwrap_or_default();
                let next = people.len();
                genuine_people.push((s, *people.entry(person).or_insert(next)));
            } else {
                within.push(s)
            }
        }
        for b in (0..n).filter(|b| !member[*b] && usable(*b) && !same_person(a, *b)) {
            across += 1;
            across_false += usize::from(score(a, b) >= threshold);
        }
    }
    let own = Scores { genuine: genuine.clone(), impostor: within.clone() };
    let (fmr_within, fnmr) = own.intervals(threshold);
    let needed = own.at_fmr(target_fmr);
    let identities = members.iter().any(|i| photos[*i].identity.is_some());
    let none = Differential { over_overall: None };
    GroupRates {
        group: name,
        photos: members.len(),
        not_detected: clopper_pearson(not_detected_by_code.values().sum(), members.len()),
        not_detected_by_code,
        enrol_refused: clopper_pearson(enrol_refused_by_code.values().sum(), members.len()),
        enrol_refused_by_code,
        fmr_within,
        fmr_across: clopper_pearson(across_false, across),
        threshold_needed: needed.threshold,
        threshold_needed_supported: needed.supported,
        fnmr: identities.then_some(fnmr),
        fnmr_identities_equal: identities.then(|| super::per_identity::fnmr(&genuine_people, threshold)),
        fmr_within_differential: none,
        not_detected_differential: none,
        enrol_refused_differential: none,
        fnmr_differential: None,
    }
}

/// Orders labels as people read them: `3-9` before `10-19` (a leading number by its value).
fn natural(label: &str) -> (u64, &str) {
    let digits = label.bytes().take_while(u8::is_ascii_digit).count();
    (label[..digits].parse().unwrap_or(u64::MAX), label)
}

/// Every non-empty subset of the columns, single columns first, in column order.
fn combinations(columns: usize) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> =
        (1u32..1 << columns).map(|mask| (0..columns).filter(|c| mask & (1 << c) != 0).collect()).collect();
    all.sort_by_key(|c| (c.len(), c.clone()));
    all
}

/// The report for `photos` labelled by `columns`, with `score(a, b)` the similarity of two usable
/// photos (asked only for pairs where both were used).
pub fn report(
    columns: &[String],
    photos: &[Photo],
    score: &dyn Fn(usize, usize) -> f32,
    threshold: f32,
    target_fmr: f64,
) -> Report {
    let everyone = vec![true; photos.len()];
    let overall = rates_of("all".into(), &everyone, photos, score, threshold, target_fmr);
    // Across groups is within everyone for the overall row: all impostor pairs.
    let overall = GroupRates { fmr_across: overall.fmr_within, ..overall };
    let mut out = Vec::new();
    for combo in combinations(columns.len()) {
        let mut values: Vec<Vec<&str>> =
            photos.iter().map(|p| combo.iter().map(|c| p.labels[*c].as_str()).collect()).collect();
        values.sort_by(|a, b| a.iter().map(|v| natural(v)).cmp(b.iter().map(|v| natural(v))));
        values.dedup();
        let mut groups: Vec<GroupRates> = values
            .iter()
            .map(|value| {
                let member: Vec<bool> =
                    photos.iter().map(|p| combo.iter().zip(value).all(|(c, v)| p.labels[*c] == *v)).collect();
                let name =
                    combo.iter().zip(value).map(|(c, v)| format!("{}={v}", columns[*c])).collect::<Vec<_>>().join(", ");
                rates_of(name, &member, photos, score, threshold, target_fmr)
            })
            .collect();
        for g in &mut groups {
            g.fmr_within_differential =
                Differential { over_overall: ratio(g.fmr_within.value, overall.fmr_within.value) };
            g.not_detected_differential =
                Differential { over_overall: ratio(g.not_detected.value, overall.not_detected.value) };
            g.enrol_refused_differential =
                Differential { over_overall: ratio(g.enrol_refused.value, overall.enrol_refused.value) };
            g.fnmr_differential =
                g.fnmr.zip(overall.fnmr).map(|(f, o)| Differential { over_overall: ratio(f.value, o.value) });
        }
        let fnmrs: Vec<f64> = groups.iter().filter_map(|g| g.fnmr.map(|f| f.value)).collect();
        out.push(Combination {
            columns: combo.iter().map(|c| columns[*c].clone()).collect(),
            fmr_within_max_over_min: max_over_min(groups.iter().map(|g| g.fmr_within.value)),
            not_detected_max_over_min: max_over_min(groups.iter().map(|g| g.not_detected.value)),
            enrol_refused_max_over_min: max_over_min(groups.iter().map(|g| g.enrol_refused.value)),
            fnmr_max_over_min: if fnmrs.is_empty() { None } else { max_over_min(fnmrs.iter().copied()) },
            groups,
        });
    }
    Report { threshold, target_fmr, overall, combinations: out }
}

#[cfg(test)]
mod tests;
