//! Which detected face is the subject, and when to refuse instead of guessing.

use super::detect::Detection;
use super::quality::{QualityIssue, QualityPolicy};

/// Enrolment is stricter than verification: a reference photo with two plausible subjects would
/// store the wrong person for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Enroll,
    Verify,
    /// One frame of a continuous capture: a probe like `Verify`, but passive liveness is scored on
    /// the subject's own box (see `FaceEngine::liveness_box`).
    Frame,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacePolicy {
    /// Smallest face worth embedding, in pixels between the eyes of a frontal face (the 112 px template
    /// has 35 px); a turned head is measured by its eyes-to-mouth height ([`Detection::face_scale`]).
    pub min_eye_distance: f32,
    /// A second face whose prominence is within this much of the subject's makes the photo ambiguous.
    pub enroll_margin: f32,
    pub verify_margin: f32,
    /// What a reference photo's capture must meet (checked at enrolment; reported at verification).
    pub quality: QualityPolicy,
}

impl Default for FacePolicy {
    fn default() -> Self {
        Self { min_eye_distance: 20.0, enroll_margin: 0.15, verify_margin: 0.05, quality: QualityPolicy::default() }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("no face was found in the image")]
    NoFace,
    #[error("{count} faces of similar prominence were found; the photo must show one person")]
    MultipleFaces { count: usize },
    #[error(
        "the face is too small ({scale:.0} px between the eyes, or as much for a turned head; at least {min:.0} px needed)"
    )]
    FaceTooSmall { scale: f32, min: f32 },
    #[error(transparent)]
    Quality(#[from] QualityIssue),
}

/// InsightFace's subject score (`FaceAnalysis`/`SCRFD.detect` with `max_num`): box area minus twice
/// the squared distance of the box centre from the image centre, here divided by the image area so
/// that margins mean the same at any resolution.
pub fn prominence(face: &Detection, width: u32, height: u32) -> f32 {
    let (cx, cy) = ((width / 2) as f32, (height / 2) as f32);
    let dx = (face.bbox[0] + face.bbox[2]) / 2.0 - cx;
    let dy = (face.bbox[1] + face.bbox[3]) / 2.0 - cy;
    (face.area() - 2.0 * (dx * dx + dy * dy)) / (width as f32 * height as f32)
}

/// A second face is a second subject only when it is at least this large beside the subject (by
/// [`Detection::face_scale`]; a half is a quarter of the area). A face in the background of a
/// press photo, or a poster behind the user, is smaller than that and far from the centre; the
/// prominence margin alone called it a rival whenever the subject's own face was small in the
/// frame, because the margin is a fraction of the image's area. Both detectors' faces go through
/// here: the rule is the pipeline's, not a model's.
pub const MIN_RIVAL_SCALE: f32 = 0.5;

/// Whether `other` is comparable to `subject` in size, and so may make a photo ambiguous.
pub fn comparable(other: &Detection, subject: &Detection) -> bool {
    other.face_scale() >= MIN_RIVAL_SCALE * subject.face_scale()
}

impl FacePolicy {
    /// Index of the subject in `faces`.
    ///
    /// On the dev set, group photos have a runner-up within 0.05 of the subject's prominence, while
    /// LFW crops with a bystander cut by the border trail by 0.28 or more.
    pub fn select(&self, faces: &[Detection], width: u32, height: u32, purpose: Purpose) -> Result<usize, Rejection> {
        let scores: Vec<f32> = faces.iter().map(|f| prominence(f, width, height)).collect();
        let best = (0..faces.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).ok_or(Rejection::NoFace)?;
        let margin = match purpose {
            Purpose::Enroll => self.enroll_margin,
            Purpose::Verify | Purpose::Frame => self.verify_margin,
        };
        let rivals = (0..faces.len())
            .filter(|&i| i != best && scores[best] - scores[i] < margin && comparable(&faces[i], &faces[best]))
            .count();
        if rivals > 0 {
            return Err(Rejection::MultipleFaces { count: rivals + 1 });
        }
        // Eye distance alone calls a large face turned sideways "small" (LFW has many, eyes 14–24 px
        // apart on a 100 px head); the face's scale reads its size from the height as well.
        let scale = faces[best].face_scale();
        if scale < self.min_eye_distance {
            return Err(Rejection::FaceTooSmall { scale, min: self.min_eye_distance });
        }
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frontal face whose eyes are `eye` px apart, its mouth as far below as in the template.
    fn face(bbox: [f32; 4], eye: f32) -> Detection {
        let y = (bbox[1] + bbox[3]) / 2.0;
        let mouth = y + eye * 1.15;
        Detection {
            bbox,
            score: 0.9,
            landmarks: [[bbox[0], y], [bbox[0] + eye, y], [0.0; 2], [bbox[0], mouth], [bbox[0] + eye, mouth]],
            pose: None,
            shape: None,
        }
    }

    #[test]
    fn no_faces_is_no_face() {
        assert_eq!(FacePolicy::default().select(&[], 100, 100, Purpose::Verify), Err(Rejection::NoFace));
    }

    #[test]
    fn a_central_face_beats_a_larger_bystander_cut_by_the_border() {
        // Dorthy_Moxley_0001-like: subject centred, bystander at the left edge.
        let subject = face([82.25, 72.96, 162.75, 185.56], 36.6);
        let bystander = face([6.74, 50.13, 64.32, 145.78], 20.0);
        let picked = FacePolicy::default().select(&[bystander, subject.clone()], 250, 250, Purpose::Enroll);
        assert_eq!(picked, Ok(1));
    }

    #[test]
    fn two_similar_faces_side_by_side_are_refused() {
        let left = face([237.0, 21.0, 387.0, 223.0], 66.0);
        let right = face([788.0, 36.0, 944.0, 258.0], 69.0);
        let got = FacePolicy::default().select(&[left, right], 1126, 661, Purpose::Verify);
        assert_eq!(got, Err(Rejection::MultipleFaces { count: 2 }));
    }

    #[test]
    fn enrolment_is_stricter_than_verification() {
        // A centred runner-up of 0.6 the size trails by 0.10 of the image area.
        let subject = face([30.0, 30.0, 70.0, 70.0], 25.0);
        let other = face([38.0, 38.0, 62.0, 62.0], 15.0);
        let policy = FacePolicy::default();
        let gap = prominence(&subject, 100, 100) - prominence(&other, 100, 100);
        assert!(gap > policy.verify_margin && gap < policy.enroll_margin, "gap {gap}");
        assert!(policy.select(&[subject.clone(), other.clone()], 100, 100, Purpose::Verify).is_ok());
        assert!(matches!(
            policy.select(&[subject, other], 100, 100, Purpose::Enroll),
            Err(Rejection::MultipleFaces { .. })
        ));
    }

    #[test]
    fn a_much_smaller_face_is_a_bystander_however_close_its_prominence() {
        // The subject small in a wide press photo; a background face a third its size just
        // beside them. By prominence alone they are within both margins.
        let subject = face([450.0, 200.0, 530.0, 300.0], 40.0);
        let background = face([380.0, 220.0, 410.0, 255.0], 13.0);
        let policy = FacePolicy::default();
        let gap = prominence(&subject, 1000, 700) - prominence(&background, 1000, 700);
        assert!(gap < policy.enroll_margin, "gap {gap}: the case the size rule is for");
        assert_eq!(policy.select(&[background.clone(), subject.clone()], 1000, 700, Purpose::Enroll), Ok(1));
        // Half the subject's size and as prominent: comparable, refused.
        let rival = face([550.0, 210.0, 590.0, 260.0], 20.0);
        assert!(comparable(&rival, &subject));
        assert!(matches!(
            policy.select(&[subject, rival], 1000, 700, Purpose::Enroll),
            Err(Rejection::MultipleFaces { count: 2 })
        ));
    }

    #[test]
    fn small_faces_are_refused() {
        let tiny = face([40.0, 40.0, 60.0, 60.0], 12.0);
        let got = FacePolicy::default().select(&[tiny], 100, 100, Purpose::Verify);
        assert!(matches!(got, Err(Rejection::FaceTooSmall { .. })));
    }

    #[test]
    fn a_large_face_turned_sideways_is_not_too_small() {
        // Eyes 16 px apart (a head turned about 60°), eyes-to-mouth 40 px: a 35 px face, frontal.
        let mut turned = face([20.0, 20.0, 80.0, 100.0], 16.0);
        turned.landmarks[3][1] = turned.landmarks[0][1] + 40.0;
        turned.landmarks[4][1] = turned.landmarks[0][1] + 40.0;
        assert!(turned.eye_distance() < 20.0 && turned.face_scale() > 30.0);
        assert_eq!(FacePolicy::default().select(&[turned], 100, 120, Purpose::Enroll), Ok(0));
    }
}
