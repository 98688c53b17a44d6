//! `faceauth fairness` on the shared FairFace set (540 photos, 9 age groups × 2 genders, each a
//! different person) with the default pack: the counts add up to the photos and pairs in the set,
//! the overall false-match rate is `calibrate`'s on the same photos, the SVG is well formed; and a
//! CSV with identities gives false non-match rates per group.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::cli::faceauth;
use crate::helpers::*;

fn faces() -> std::path::PathBuf {
    std::env::var("FACES_DIR").map(Into::into).unwrap_or_else(|_| root().join("../shared/faces"))
}

fn run_fairness(dir: &Path, labels: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args =
        vec!["fairness", dir.to_str().unwrap(), "--labels", labels.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = faceauth(&args, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("| group | photos |"), "a table on stdout: {stdout}");
    serde_json::from_slice(&std::fs::read(out.join("fairness.json")).unwrap()).unwrap()
}

fn trials(rate: &Value) -> u64 {
    rate["trials"].as_u64().unwrap()
}

fn errors(rate: &Value) -> u64 {
    rate["errors"].as_u64().unwrap()
}

#[test]
fn the_fairface_set_adds_up_matches_calibrate_and_plots() {
    let set = faces().join("fairness");
    let work = tempfile::tempdir().unwrap();
    let json = run_fairness(&set, &set.join("ground_truth.json"), &work.path().join("fairness"), &[]);
    let report = &json["report"];
    let overall = &report["overall"];
    assert_eq!(overall["photos"], 540);
    assert_eq!(json["model_pack"], "open", "the default pack");
    let usable = 540 - errors(&overall["not_detected"]);
    assert_eq!(trials(&overall["fmr_within"]), usable * (usable - 1) / 2, "every pair of usable photos, once");

    let combinations = report["combinations"].as_array().unwrap();
    let columns: Vec<String> = combinations
        .iter()
        .map(|c| {
            c["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(columns, ["age", "gender", "age,gender"]);
    for (combo, groups_expected) in combinations.iter().zip([9, 2, 18]) {
        let groups = combo["groups"].as_array().unwrap();
        assert_eq!(groups.len(), groups_expected);
        let sum = |f: &dyn Fn(&Value) -> u64| groups.iter().map(f).sum::<u64>();
        assert_eq!(sum(&|g| g["photos"].as_u64().unwrap()), 540, "every photo in one group");
        assert_eq!(sum(&|g| errors(&g["not_detected"])), errors(&overall["not_detected"]));
        assert_eq!(sum(&|g| errors(&g["enrol_refused"])), errors(&overall["enrol_refused"]));
        // Each pair is within one group, or across two (seen from both sides).
        let within = sum(&|g| trials(&g["fmr_within"]));
        let across = sum(&|g| trials(&g["fmr_across"]));
        assert_eq!(within + across / 2, trials(&overall["fmr_within"]));
        let false_within = sum(&|g| errors(&g["fmr_within"]));
        let false_across = sum(&|g| errors(&g["fmr_across"]));
        assert_eq!(false_within + false_across / 2, errors(&overall["fmr_within"]));
        assert!(groups.iter().all(|g| g["fnmr"].is_null()), "no identities in FairFace: no FNMR");
    }
    let cells = combinations[2]["groups"].as_array().unwrap();
    assert!(cells.iter().all(|g| g["photos"] == 30), "30 photos a cell, as the set's README says");

    // calibrate on the same photos, each its own identity: the same impostor comparisons, the
    // same false matches at the shipped threshold. Copied, not linked: calibrate reads only under
    // its folder, links resolved.
    let tree = work.path().join("identities");
    let labels: Vec<Value> = serde_json::from_slice(&std::fs::read(set.join("ground_truth.json")).unwrap()).unwrap();
    for entry in &labels {
        let name = entry["filename"].as_str().unwrap();
        let folder = tree.join(name.trim_end_matches(".jpg"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(set.join(name), folder.join(name)).unwrap();
    }
    let out = work.path().join("calibration");
    let (code, _, stderr) = faceauth(&["calibrate", tree.to_str().unwrap(), "--out", out.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let scores: Value = serde_json::from_slice(&std::fs::read(out.join("scores.json")).unwrap()).unwrap();
    let impostor: Vec<f64> = scores["impostor"].as_array().unwrap().iter().map(|s| s.as_f64().unwrap()).collect();
    let threshold = report["threshold"].as_f64().unwrap() as f32;
    let false_matches = impostor.iter().filter(|s| **s as f32 >= threshold).count() as u64;
    assert_eq!(
        (false_matches, impostor.len() as u64),
        (errors(&overall["fmr_within"]), trials(&overall["fmr_within"]))
    );

    // The plot: well-formed XML (Python's parser), a row label for every group.
    let svg = work.path().join("fairness/fairness.svg");
    let parsed = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag)"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
    assert!(String::from_utf8_lossy(&parsed.stdout).trim().ends_with("svg"));
    let text = std::fs::read_to_string(&svg).unwrap();
    for g in cells {
        assert!(text.contains(g["group"].as_str().unwrap()), "{} is labelled", g["group"]);
    }
}

#[test]
fn a_csv_with_identities_gives_false_non_match_rates_per_group() {
    // Dev photos of four people, labelled by a made-up column: two people in each group.
    let dev = faces().join("dev");
    let people = ["Angelina_Jolie", "Jennifer_Aniston", "Barack_Obama", "Matt_Damon"];
    let mut csv = String::from("file,person,cohort\n");
    let mut per_person = BTreeMap::new();
    for (k, person) in people.iter().enumerate() {
        let mut photos: Vec<String> = std::fs::read_dir(dev.join(person))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".jpg"))
            .collect();
        photos.sort();
        photos.truncate(4);
        per_person.insert(*person, photos.len() as u64);
        for photo in photos {
            csv.push_str(&format!("{person}/{photo},{person},{}\n", if k < 2 { "A" } else { "B" }));
        }
    }
    let work = tempfile::tempdir().unwrap();
    let labels = work.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    let json = run_fairness(&dev, &labels, &work.path().join("out"), &["--identity-column", "person"]);
    let overall = &json["report"]["overall"];
    let genuine: u64 = per_person.values().map(|n| n * (n - 1) / 2).sum();
    assert_eq!(errors(&overall["not_detected"]), 0, "the dev photos are all found");
    assert_eq!(trials(&overall["fnmr"]), genuine, "every same-person pair");
    let groups = json["report"]["combinations"][0]["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| g["group"].as_str().unwrap()).collect::<Vec<_>>(), ["cohort=A", "cohort=B"]);
    for g in groups {
        assert!(g["fnmr"]["trials"].as_u64().unwrap() > 0);
        // Only different people are impostors: two people per group, 4 photos each → 16 pairs.
        assert_eq!(trials(&g["fmr_within"]), 16);
    }
}

#[test]
fn a_labels_file_cannot_reach_outside_its_folder_and_its_labels_cannot_forge_rows() {
    let work = tempfile::tempdir().unwrap();
    let set = work.path().join("set");
    std::fs::create_dir_all(&set).unwrap();
    let photo = "Angelina_Jolie/deepface_img2.jpg";
    std::fs::create_dir_all(set.join("Angelina_Jolie")).unwrap();
    std::fs::copy(faces().join("dev").join(photo), set.join(photo)).unwrap();
    std::fs::write(work.path().join("outside.jpg"), std::fs::read(faces().join("dev").join(photo)).unwrap()).unwrap();
    std::os::unix::fs::symlink(work.path().join("outside.jpg"), set.join("link.jpg")).unwrap();
    let out = work.path().join("out");
    for (name, why) in [("/etc/passwd", "absolute"), ("../outside.jpg", "climbs out"), ("link.jpg", "a link out")] {
        let labels = work.path().join("labels.csv");
        std::fs::write(&labels, format!("file,group\n{photo},a\n{name},b\n")).unwrap();
        let args =
            ["fairness", set.to_str().unwrap(), "--labels", labels.to_str().unwrap(), "--out", out.to_str().unwrap()];
        let (code, _, stderr) = faceauth(&args, &[]);
        assert_ne!(code, Some(0), "{why}: {name} was read");
        assert!(stderr.contains(name), "{why}: the refusal names the entry: {stderr}");
    }
    // A label with a pipe and a line break stays in its cell of the Markdown table.
    let labels = work.path().join("labels.json");
    let hostile = "x | 1\n| forged | row |";
    std::fs::write(&labels, serde_json::json!([{ "filename": photo, "group": hostile }]).to_string()).unwrap();
    let args =
        ["fairness", set.to_str().unwrap(), "--labels", labels.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (code, stdout, stderr) = faceauth(&args, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.lines().any(|l| l.starts_with("| forged")), "a label added a row: {stdout}");
    let row = stdout.lines().find(|l| l.contains("group=x")).expect("the group's row");
    assert!(row.contains("group=x \\| 1 \\| forged \\| row \\|"), "{row}");
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("fairness.json")).unwrap()).unwrap();
    assert!(json.to_string().contains("forged"), "the JSON keeps the label as given");
}
