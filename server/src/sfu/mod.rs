//! The selective forwarding unit: peer connections on the `webrtc` crate, and the forwarding of
//! each published track to every subscriber.
//!
//! - [`peer`] builds one peer connection per participant (codecs, ports, NAT, interceptors).
//! - [`candidates`] decides which remote ICE candidates reach the ICE agent.
//! - [`rewrite`] is the pure per-subscriber RTP rewrite (SSRC, payload type, extension ids).
//! - [`forward`] owns a publication (one remote track) and its downstreams.
//! - [`munger`] keeps each downstream's sequence numbers and timestamps continuous across a
//!   pause or a reused send slot (64-bit internally, so wraparounds never confuse it).
//! - `salon_rtc::keyframe` is the interceptor that hands subscribers' keyframe requests to us.

pub mod candidates;
pub mod forward;
pub mod munger;
pub mod peer;
pub mod rewrite;
