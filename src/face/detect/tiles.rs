//! BlazeFace + FaceMesh on a whole photo: the candidates suppressed and meshed, and, when no face
//! is near the camera, the photo looked at again in overlapping squares (the short-range model sees
//! 128 px: a distant face or a group would vanish).

use image::RgbImage;

use super::blazeface::{Candidate, weighted_nms};
use super::detection::{Detection, DetectorSettings};
use super::mesh::{FaceMesh, Mesh};
use crate::face::letterbox::Region;
use crate::face::runtime::InferenceError;

/// Suppression across the candidates, then the mesh of each face (the first [`MAX_MESHED`]).
pub(super) fn meshed(
    mesh: &mut FaceMesh,
    image: &RgbImage,
    candidates: Vec<Candidate>,
    settings: &DetectorSettings,
) -> Result<Vec<Detection>, InferenceError> {
    let mut faces = Vec::new();
    // The mesh runs per face (a few ms each); a crowd beyond a handful is refused as multiple
    // faces either way, so the rest keep BlazeFace's own points.
    for (i, candidate) in weighted_nms(candidates, settings.nms_threshold).into_iter().enumerate() {
        match i < MAX_MESHED {
            true => {
                faces.extend(mesh.locate(image, &candidate)?.filter(Mesh::is_face).map(|m| m.detection(&candidate)))
            }
            false => faces.push(candidate.rough_detection()),
        }
    }
    Ok(faces)
}

/// Squares of the region's shorter side and of half of it, each overlapping its neighbours by half,
/// covering the region; none when the region is itself a square too small to divide.
pub(super) fn tiles(region: Region) -> Vec<Region> {
    let mut out = Vec::new();
    let short = region.w.min(region.h);
    for side in [short, short / 2] {
        if side < MIN_TILE || (side == region.w && side == region.h) {
            continue;
        }
        let starts = |len: u32| {
            let stride = (side / 2).max(1);
            let mut at: Vec<u32> = (0..=(len - side)).step_by(stride as usize).collect();
            if at.last() != Some(&(len - side)) {
                at.push(len - side);
            }
            at
        };
        for y in starts(region.h) {
            for x in starts(region.w) {
                out.push(Region { x: region.x + x, y: region.y + y, w: side, h: side });
            }
        }
    }
    out
}

/// A face at least this part of the photo's shorter side is near the camera: the photo is not
/// searched tile by tile for more (a selfie's face is a third of the frame or more).
pub(super) const NEAR: f32 = 0.25;

/// Tiles smaller than this hold no face the pipeline would accept (MIN_EYE_DISTANCE_PX).
const MIN_TILE: u32 = 96;

/// Faces whose mesh is computed; further faces only count.
const MAX_MESHED: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_a_wide_photo_at_two_scales_and_a_square_one_at_half() {
        let wide = tiles(Region { x: 0, y: 0, w: 1000, h: 600 });
        assert!(wide.iter().all(|t| t.x + t.w <= 1000 && t.y + t.h <= 600));
        assert_eq!(wide.iter().filter(|t| t.w == 600).count(), 3, "0, 300, 400");
        assert_eq!(wide.iter().filter(|t| t.w == 300).count(), 6 * 3);
        let square = tiles(Region { x: 10, y: 20, w: 400, h: 400 });
        assert!(square.iter().all(|t| t.w == 200 && t.x >= 10 && t.y >= 20), "{square:?}");
        assert_eq!(square.len(), 9);
        assert!(tiles(Region { x: 0, y: 0, w: 150, h: 150 }).is_empty());
    }
}
