//! What every detector gives: a face's box, score, five alignment points and (from the mesh) its
//! pose and 3-D points; the detector's thresholds; greedy NMS.

use std::sync::Arc;

/// One detected face in original image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    pub score: f32,
    /// Left eye, right eye, nose, left and right mouth corners (as seen in the image).
    pub landmarks: [[f32; 2]; 5],
    /// Yaw and pitch in degrees, when the detector measures them itself (FaceMesh); otherwise
    /// [`crate::face::quality::pose`] estimates them from the five landmarks.
    pub pose: Option<[f32; 2]>,
    /// The face's 3-D shape as the detector saw it (FaceMesh's 468 points: x and y in image
    /// pixels, z in the same units, towards the camera negative); `None` from SCRFD. The planarity
    /// check reads it: a flat picture's points move as one plane, a head's do not.
    pub shape: Option<Arc<[[f32; 3]]>>,
}

impl Detection {
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }

    pub fn eye_distance(&self) -> f32 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
    }

    /// The face's resolution in eye distances of a frontal face: the larger of the eye distance and
    /// the eyes-to-mouth distance over 1.15 (their ratio in ArcFace's 112 px template: 40.6 / 35.2 px).
    /// A head turned sideways keeps its eyes-to-mouth height while its eyes close up, and a tilted one
    /// the reverse, so neither looks smaller than it is.
    pub fn face_scale(&self) -> f32 {
        let [le, re, _, lm, rm] = self.landmarks;
        let eyes = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
        let mouth = [(lm[0] + rm[0]) / 2.0, (lm[1] + rm[1]) / 2.0];
        let height = ((eyes[0] - mouth[0]).powi(2) + (eyes[1] - mouth[1]).powi(2)).sqrt();
        self.eye_distance().max(height / 1.15)
    }

    /// Yaw and pitch in degrees: the detector's own measurement when it made one (FaceMesh), else
    /// [`Detection::five_point_pose`].
    pub fn head_pose(&self) -> (f32, f32) {
        match self.pose {
            Some([yaw, pitch]) => (yaw, pitch),
            None => self.five_point_pose(),
        }
    }

    /// Yaw and pitch in degrees from SCRFD's five landmarks (the scale every pose limit,
    /// QUALITY_MAX_* and CHALLENGE_*, was set on): the nose tip's offset from the eyes' midpoint,
    /// in eye distances, read as the rotation of a point a little in front of the eyes' plane.
    pub fn five_point_pose(&self) -> (f32, f32) {
        let [le, re, nose, lm, rm] = self.landmarks;
        let eyes = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
        let mouth = [(lm[0] + rm[0]) / 2.0, (lm[1] + rm[1]) / 2.0];
        let eye_distance = self.eye_distance().max(1.0);
        // The nose tip stands about 0.6 eye distances in front of the eyes (adult faces).
        let yaw = ((nose[0] - eyes[0]) / eye_distance / 0.6).atan().to_degrees();
        // Frontal, the nose sits about 0.55 of the way from the eyes to the mouth.
        let span = (mouth[1] - eyes[1]).max(1.0);
        let pitch = -(((nose[1] - eyes[1]) / span - 0.55) * span / eye_distance / 0.6).atan().to_degrees();
        (yaw, pitch)
    }

    /// The same face in an image `sx`×`sy` times as large.
    pub fn scaled(&self, sx: f32, sy: f32) -> Self {
        let [x1, y1, x2, y2] = self.bbox;
        Self {
            bbox: [x1 * sx, y1 * sy, x2 * sx, y2 * sy],
            score: self.score,
            landmarks: self.landmarks.map(|[x, y]| [x * sx, y * sy]),
            pose: self.pose,
            // Depth scales with the image (a uniform scale in practice: sx and sy differ by rounding).
            shape: self.shape.as_ref().map(|points| {
                let sz = (sx + sy) / 2.0;
                points.iter().map(|[x, y, z]| [x * sx, y * sy, z * sz]).collect()
            }),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DetectorSettings {
    /// Square canvas side the image is letterboxed into (a multiple of 32), unless the model fixes it.
    pub input_size: u32,
    pub score_threshold: f32,
    pub nms_threshold: f32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self { input_size: 640, score_threshold: 0.5, nms_threshold: 0.4 }
    }
}

/// Greedy NMS by score, with InsightFace's inclusive-pixel (+1) box areas.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |d: &Detection| (d.bbox[2] - d.bbox[0] + 1.0) * (d.bbox[3] - d.bbox[1] + 1.0);
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        let suppressed = keep.iter().any(|k| {
            let w = (k.bbox[2].min(d.bbox[2]) - k.bbox[0].max(d.bbox[0]) + 1.0).max(0.0);
            let h = (k.bbox[3].min(d.bbox[3]) - k.bbox[1].max(d.bbox[1]) + 1.0).max(0.0);
            let inter = w * h;
            inter / (area(k) + area(&d) - inter) > iou_threshold
        });
        if !suppressed {
            keep.push(d);
        }
    }
    keep
}
