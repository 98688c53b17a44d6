//! A progressive JPEG without its AC refinement scans, for decoding at a reduced DCT scale.
//!
//! A progressive JPEG sends each coefficient's high bits first and refines them in later scans.
//! libjpeg-turbo decodes refinement scans bit by bit (`decode_mcu_AC_refine`): on the dev set's
//! progressive phone photos they are a third of the service's CPU under load. At 1/2 to 1/8 scale
//! only the lowest frequencies reach the output, and the bits the AC refinements add to them are
//! worth a few grey levels: the DC refinements are kept (they set each block's mean), the AC
//! refinements are dropped. The result is a valid progressive JPEG with fewer scans; anything this
//! parser does not fully understand is left as it was.

/// The scans to keep, as a new JPEG; `None` when there is nothing to drop or the stream is not one
/// this parser follows to the end (the caller then decodes the original bytes).
pub fn without_ac_refinements(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..2]);
    let (mut at, mut progressive, mut dropped) = (2, false, false);
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        while jpeg.get(at)? == &0xFF && jpeg.get(at + 1)? == &0xFF {
            at += 1;
        }
        if jpeg.get(at)? != &0xFF {
            return None;
        }
        let marker = *jpeg.get(at + 1)?;
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return (progressive && dropped).then_some(out);
        }
        let length = u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]) as usize;
        let header_end = at.checked_add(2)?.checked_add(length)?;
        let header = jpeg.get(at..header_end)?;
        match marker {
            0xC2 => progressive = true,
            // Baseline, extended, lossless, arithmetic: not ours to edit.
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
        if marker != 0xDA {
            out.extend_from_slice(header);
            at = header_end;
            continue;
        }
        // SOS: Ns, Ns × (id, tables), Ss, Se, Ah|Al; then entropy-coded data to the next marker.
        let ns = *header.get(4)? as usize;
        let spectral_start = *header.get(5 + 2 * ns)?;
        let approximation_high = *header.get(7 + 2 * ns)? >> 4;
        let data_end = scan_end(jpeg, header_end)?;
        if spectral_start > 0 && approximation_high > 0 {
            dropped = true;
        } else {
            out.extend_from_slice(&jpeg[at..data_end]);
        }
        at = data_end;
    }
}

/// Where the entropy-coded data starting at `from` ends: the first marker that is neither a
/// stuffed 0xFF00 nor a restart marker.
fn scan_end(jpeg: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let ff = at + jpeg.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *jpeg.get(ff + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => at = ff + 1,
            _ => return Some(ff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    /// One-component SOS with the given spectral range and successive approximation, then data.
    fn scan(ss: u8, se: u8, ah: u8, al: u8, data: &[u8]) -> Vec<u8> {
        let mut s = segment(0xDA, &[1, 1, 0, ss, se, (ah << 4) | al]);
        s.extend_from_slice(data);
        s
    }

    fn jpeg(frame: u8, scans: &[Vec<u8>]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend(segment(frame, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
        for s in scans {
            j.extend_from_slice(s);
        }
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    #[test]
    fn ac_refinements_are_dropped_and_everything_else_kept() {
        let dc_first = scan(0, 0, 0, 1, &[0x12, 0xFF, 0x00, 0x34]);
        let ac_first = scan(1, 63, 0, 1, &[0x56, 0xFF, 0xD0, 0x78]);
        let dc_refine = scan(0, 0, 1, 0, &[0x9A]);
        let ac_refine = scan(1, 63, 1, 0, &[0xBC, 0xDE]);
        let original = jpeg(0xC2, &[dc_first.clone(), ac_first.clone(), dc_refine.clone(), ac_refine]);
        let kept = without_ac_refinements(&original).unwrap();
        assert_eq!(kept, jpeg(0xC2, &[dc_first, ac_first, dc_refine]));
    }

    #[test]
    fn baseline_files_and_progressive_files_without_refinements_are_left_alone() {
        let baseline = jpeg(0xC0, &[scan(0, 63, 0, 0, &[1, 2, 3])]);
        assert_eq!(without_ac_refinements(&baseline), None);
        let unrefined = jpeg(0xC2, &[scan(0, 0, 0, 0, &[1]), scan(1, 63, 0, 0, &[2])]);
        assert_eq!(without_ac_refinements(&unrefined), None);
    }

    proptest::proptest! {
        /// Hostile bytes: a progressive stream with random edits, or random bytes after an SOI, give
        /// an edited stream or `None`, never a panic, and never a longer stream than was given.
        #[test]
        fn edited_streams_never_panic(
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..12),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut bytes = jpeg(0xC2, &[scan(0, 0, 0, 1, &[1, 0xFF, 0]), scan(1, 63, 1, 0, &[2, 3])]);
            for (at, value) in flips {
                let i = 2 + at % (bytes.len() - 2);
                bytes[i] = value;
            }
            bytes.extend_from_slice(&tail);
            if let Some(edited) = without_ac_refinements(&bytes) {
                proptest::prop_assert!(edited.len() <= bytes.len() + 2);
            }
        }
    }

    #[test]
    fn truncated_or_garbled_streams_are_left_alone() {
        let full = jpeg(0xC2, &[scan(0, 0, 0, 1, &[1]), scan(1, 63, 1, 0, &[2])]);
        for cut in 0..full.len() - 1 {
            assert_eq!(without_ac_refinements(&full[..cut]), None, "cut at {cut}");
        }
        assert_eq!(without_ac_refinements(b"not a jpeg"), None);
    }
}
