//! My camera as two simulcast layers, and which of them to encode right now.
//!
//! The core publishes its camera as [`LAYERS`]: rid `q` at half the width and height of the
//! camera frames ([`crate::media::scale::half`]) and rid `f` at full size, lowest first (the
//! protocol's order), each with its own encoder, SSRC and keyframes. Always both, whatever the
//! frame size: the layers are declared once per connection while camera frames may change size
//! at any time (a rotated phone, another camera). A frame too small to halve (a side under 32
//! px) goes out unscaled on `q` too; a 160×120 camera sends an 80×60 `q`.
//!
//! Which layers to encode follows the server ([`wanted`], pure): nothing while nobody watches
//! my video (`video_watched`), every layer until the server first names the ones someone
//! watches (`video_layers`), then only those. The driver stores the answer in [`LayerSwitches`],
//! which the encoder thread reads per frame; a layer switched back on starts with a keyframe.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use rtc::rtp::extension::HeaderExtension;
use rtc::shared::marshal::{Marshal, MarshalSize};

/// My video's layers, lowest first.
pub const LAYERS: [Layer; 2] = [
    Layer {
        rid: "q",
        halved: true,
    },
    Layer {
        rid: "f",
        halved: false,
    },
];

/// How many layers my video has.
pub const LAYER_COUNT: usize = LAYERS.len();

/// The header extensions that name a simulcast layer's packets (RFC 8852): the section's mid
/// and the layer's rid.
pub use rtc::sdp::extmap::{SDES_MID_URI as MID_URI, SDES_RTP_STREAM_ID_URI as RID_URI};

/// The low layer's share of the configured bitrate, and its floor.
const LOW_LAYER_DIVISOR: u32 = 4;
const LOW_LAYER_MIN_BPS: u32 = 50_000;

/// One layer of my video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Its RFC 8851 rid, as in the offer's `a=simulcast:send q;f`.
    pub rid: &'static str,
    /// Encoded from the camera frame halved (else at full size).
    pub halved: bool,
}

impl Layer {
    /// The target bitrate of this layer when the full layer gets `full_bps`: a quarter (a
    /// quarter of the pixels) but at least 50 kb/s, never more than the full layer.
    pub fn bitrate_bps(&self, full_bps: u32) -> u32 {
        if self.halved {
            (full_bps / LOW_LAYER_DIVISOR)
                .max(LOW_LAYER_MIN_BPS)
                .min(full_bps)
        } else {
            full_bps
        }
    }
}

/// The layer a rid names, if it is one of mine.
pub fn layer_of(rid: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.rid == rid)
}

/// Which layers to encode and send: none while nobody watches my video; all of them until the
/// server names the watched ones (`listed`, from `video_layers`); then those. A list naming
/// none of my layers (a server that does not know them) counts as no list: sending too much
/// costs upload, sending nothing would leave the watchers without a picture.
pub fn wanted(watched: bool, listed: Option<&[String]>) -> [bool; LAYER_COUNT] {
    if !watched {
        return [false; LAYER_COUNT];
    }
    let Some(listed) = listed else {
        return [true; LAYER_COUNT];
    };
    let on = LAYERS.map(|l| listed.iter().any(|rid| rid == l.rid));
    if on.iter().any(|on| *on) {
        on
    } else {
        [true; LAYER_COUNT]
    }
}

/// The encoder thread's switches, set by the driver and by keyframe requests: which layers to
/// encode, and which owe a keyframe.
#[derive(Debug)]
pub struct LayerSwitches {
    on: [AtomicBool; LAYER_COUNT],
    keyframe: [AtomicBool; LAYER_COUNT],
}

impl Default for LayerSwitches {
    /// Every layer on, each owing its first keyframe.
    fn default() -> Self {
        Self {
            on: std::array::from_fn(|_| AtomicBool::new(true)),
            keyframe: std::array::from_fn(|_| AtomicBool::new(true)),
        }
    }
}

impl LayerSwitches {
    /// Encode exactly the layers `on` says; a layer coming back on owes a keyframe (whoever
    /// waits for it has no picture to start from). Returns whether anything changed.
    pub fn set(&self, on: [bool; LAYER_COUNT]) -> bool {
        let mut changed = false;
        for (i, want) in on.into_iter().enumerate() {
            let was = self.on[i].swap(want, Ordering::Relaxed);
            if want && !was {
                self.keyframe[i].store(true, Ordering::Relaxed);
            }
            changed |= want != was;
        }
        changed
    }

    pub fn is_on(&self, layer: usize) -> bool {
        self.on
            .get(layer)
            .is_some_and(|on| on.load(Ordering::Relaxed))
    }

    /// Which layers are on now.
    pub fn current(&self) -> [bool; LAYER_COUNT] {
        std::array::from_fn(|i| self.is_on(i))
    }

    /// The next frame of `layer` should be a keyframe (a request about its SSRC).
    pub fn request_keyframe(&self, layer: usize) {
        if let Some(k) = self.keyframe.get(layer) {
            k.store(true, Ordering::Relaxed);
        }
    }

    /// Every layer's next frame should be a keyframe (a new connection, the camera on again, a
    /// request we cannot place).
    pub fn request_keyframes(&self) {
        for k in &self.keyframe {
            k.store(true, Ordering::Relaxed);
        }
    }

    /// Whether `layer` owes a keyframe, clearing it (the encoder keeps the request until one
    /// comes out).
    pub fn take_keyframe(&self, layer: usize) -> bool {
        self.keyframe
            .get(layer)
            .is_some_and(|k| k.swap(false, Ordering::Relaxed))
    }
}

/// The value of an RFC 8852 SDES header extension (mid, rid): its text, as is.
struct SdesText(Bytes);

impl MarshalSize for SdesText {
    fn marshal_size(&self) -> usize {
        self.0.len()
    }
}

impl Marshal for SdesText {
    fn marshal_to(&self, buf: &mut [u8]) -> rtc::shared::error::Result<usize> {
        let n = self.0.len();
        let Some(out) = buf.get_mut(..n) else {
            return Err(rtc::shared::error::Error::ErrBufferTooSmall);
        };
        out.copy_from_slice(&self.0);
        Ok(n)
    }
}

/// The header extensions every packet of a layer carries: the section's `mid` and the layer's
/// `rid`, which is how the server tells the layers apart (our offer names them only by rid).
/// Browsers stop sending them once the receiver acknowledged the SSRC; we keep them on every
/// packet (a few bytes each), so the server can bind a layer again at any time.
pub fn sdes_extensions(mid: &str, rid: &str) -> Vec<HeaderExtension> {
    [(MID_URI, mid), (RID_URI, rid)]
        .into_iter()
        .map(|(uri, text)| HeaderExtension::Custom {
            uri: uri.into(),
            extension: Box::new(SdesText(Bytes::copy_from_slice(text.as_bytes()))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rids: &[&str]) -> Vec<String> {
        rids.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn layers_are_lowest_first_with_the_low_one_halved() {
        assert_eq!(LAYERS.map(|l| l.rid), ["q", "f"]);
        assert!(LAYERS[0].halved && !LAYERS[1].halved);
        assert_eq!(layer_of("q"), Some(0));
        assert_eq!(layer_of("f"), Some(1));
        assert_eq!(layer_of("h"), None);
        assert_eq!(LAYERS[0].bitrate_bps(800_000), 200_000);
        assert_eq!(LAYERS[0].bitrate_bps(120_000), 50_000);
        assert_eq!(LAYERS[0].bitrate_bps(30_000), 30_000);
        assert_eq!(LAYERS[1].bitrate_bps(800_000), 800_000);
    }

    #[test]
    fn the_server_names_the_layers_to_send() {
        // Until told: everything; nobody watching: nothing, whatever the list says.
        assert_eq!(wanted(true, None), [true, true]);
        assert_eq!(wanted(false, None), [false, false]);
        assert_eq!(wanted(false, Some(&list(&["q", "f"]))), [false, false]);
        assert_eq!(wanted(true, Some(&list(&["q"]))), [true, false]);
        assert_eq!(wanted(true, Some(&list(&["f"]))), [false, true]);
        assert_eq!(wanted(true, Some(&list(&["q", "f"]))), [true, true]);
        // Rids that are not mine are ignored; a list of only those means "send everything".
        assert_eq!(wanted(true, Some(&list(&["h", "f"]))), [false, true]);
        assert_eq!(wanted(true, Some(&list(&["h"]))), [true, true]);
        assert_eq!(wanted(true, Some(&[])), [true, true]);
    }

    #[test]
    fn a_layer_back_on_owes_a_keyframe_and_requests_stay_per_layer() {
        let s = LayerSwitches::default();
        assert_eq!(s.current(), [true, true]);
        // Both owe their first keyframe.
        assert!(s.take_keyframe(0) && s.take_keyframe(1));
        assert!(!s.take_keyframe(0) && !s.take_keyframe(1));

        // Pausing owes nothing; nothing changes twice.
        assert!(s.set([true, false]));
        assert!(!s.set([true, false]));
        assert!(!s.is_on(1) && s.is_on(0));
        assert!(!s.take_keyframe(0) && !s.take_keyframe(1));

        // Back on: that layer (only) starts with a keyframe.
        assert!(s.set([true, true]));
        assert!(!s.take_keyframe(0));
        assert!(s.take_keyframe(1));

        // A request about one layer's SSRC is that layer's alone.
        s.request_keyframe(0);
        assert!(!s.take_keyframe(1));
        assert!(s.take_keyframe(0));
        s.request_keyframes();
        assert!(s.take_keyframe(0) && s.take_keyframe(1));
        // Out of range: ignored.
        s.request_keyframe(7);
        assert!(!s.is_on(7) && !s.take_keyframe(7));
    }

    #[test]
    fn the_sdes_extensions_carry_the_text() {
        let exts = sdes_extensions("1", "q");
        assert_eq!(exts.len(), 2);
        assert_eq!(exts[0].uri(), MID_URI);
        assert_eq!(exts[1].uri(), RID_URI);
        let mut buf = [0u8; 4];
        assert_eq!(exts[1].marshal_size(), 1);
        assert_eq!(exts[1].marshal_to(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], b'q');
        assert!(
            SdesText(Bytes::from_static(b"long"))
                .marshal_to(&mut [0u8; 2])
                .is_err()
        );
    }
}
