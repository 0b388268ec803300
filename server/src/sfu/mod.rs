//! The selective forwarding unit: the media engine (worker threads driving sans-IO `rtc` peer
//! connections on one UDP port) and the pure pieces it is made of.
//!
//! - [`engine`] owns the connections, routes datagrams, forwards RTP and relays RTCP.
//! - [`demux`] tells which connection a datagram on the shared port belongs to.
//! - [`peer`] builds one participant's connection (codecs, ICE credentials, interceptors).
//! - [`feedback`] takes keyframe requests and sender reports out of a connection's RTCP, and
//!   the received streams' RTP out of its chain.
//! - [`repair`] turns a simulcast layer's retransmissions back into the layer's packets.
//! - [`layers`] chooses a simulcast layer per subscriber (by view, and by downlink budget when
//!   the estimator is on) and switches at keyframes.
//! - [`candidates`] decides which remote ICE candidates reach the ICE agent.
//! - [`rewrite`] is the pure per-subscriber RTP rewrite (SSRC, payload type, extension ids).
//! - [`forward`] is the handle on a publication (one received track) that rooms hold.
//! - [`tcp`] frames ICE-TCP streams (RFC 4571) for clients without UDP.
//! - [`udp`] sends a pass's datagrams with one system call per batch.
//! - [`speakers`] chooses whose audio is forwarded: the room's few loudest voices (RFC 6464
//!   audio levels), without flicker.
//! - [`keyframe`] tells whether a packet starts a keyframe (a downstream starts at one).
//! - [`downlink`] numbers what each subscriber is sent and reads its congestion control
//!   feedback: whether the queue toward it grows (GCC's delay-based detector).
//! - [`history`] keeps the video datagrams sent to each subscriber for a second, to answer
//!   its retransmission requests (the engine encrypts forwarded copies itself, past the stack).
//! - [`munger`] keeps each downstream's sequence numbers and timestamps continuous across a
//!   pause or a reused send slot (64-bit internally, so wraparounds never confuse it).

pub mod candidates;
pub mod demux;
pub mod downlink;
pub mod engine;
pub mod feedback;
pub mod forward;
pub mod history;
pub mod keyframe;
pub mod layers;
pub mod munger;
pub mod peer;
pub mod readside;
pub mod repair;
pub mod rewrite;
pub mod speakers;
pub mod tcp;
pub mod udp;
