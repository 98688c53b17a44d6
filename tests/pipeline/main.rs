//! The face pipeline checked number by number against the Python reference pipeline (InsightFace
//! SCRFD + norm_crop + onnxruntime) on the real photos in `../shared/faces`.

mod support;

mod adaptive;
mod background;
mod flat;
mod liveness;
mod open_pack;
mod planarity;
mod quality;
mod reference;
mod replay;
mod selection;
mod special;
mod verification;
mod video;
