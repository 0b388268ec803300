//! The client's peer connection: the same codec set as the server, our keyframe interceptor (so
//! the encoder hears keyframe requests), events on a channel (`salon_rtc::events`).

use std::sync::Arc;
use std::time::Instant;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::interceptor_registry::configure_simulcast_extension_headers;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::{RTCIceServer, RTCIceTransportPolicy, RTCOfferOptions};
use rtc::peer_connection::sdp::RTCSessionDescription;
use salon_protocol::{IceServer, MAX_ICE_SERVER_URLS, TurnTransport, TurnUrl};
use salon_rtc::events::ChannelHandler;
pub use salon_rtc::events::PeerEvent;
use tokio::sync::{mpsc, watch};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, Registry, register_default_interceptors,
};

use crate::error::CoreError;

pub struct ClientPeer {
    pub pc: Arc<dyn PeerConnection>,
    pub gathering: watch::Receiver<RTCIceGatheringState>,
    pub events: mpsc::UnboundedReceiver<PeerEvent>,
    /// The last connection state we heard was `Connected`: media flows, so a signaling blip
    /// need not touch this connection.
    pub connected: bool,
    /// It was connected once and has not failed since: worth keeping through a lost socket
    /// (a network change leaves it `disconnected` until an ICE restart).
    pub was_connected: bool,
    pub failed: bool,
    /// An ICE restart is owed (the network changed, or ours was in flight, when the socket
    /// went): the resumed connection sends it first.
    pub restart_due: bool,
    /// It dials the server's ICE-TCP candidates (it has TCP addresses and is not relay-only).
    pub dials_tcp: bool,
    /// It has UDP addresses (else TCP is dialled at once).
    pub has_udp: bool,
    /// The server's ICE-TCP candidates from the last answer, and when to dial them if the media
    /// has not connected by then ([`apply_answer`]).
    pub tcp_later: Option<(Instant, Vec<String>)>,
}

/// The server's TURN servers as the WebRTC stack takes them: UDP ones only. (webrtc-rs 0.21
/// does not gather over TURN/TCP or TLS, webrtc-rs#848: the apps reach the server over UDP
/// through TURN, or directly.) At most [`MAX_ICE_SERVER_URLS`] URLs; an unreadable one is
/// skipped, never fatal: the direct path still works.
pub fn turn_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    let mut left = MAX_ICE_SERVER_URLS;
    servers
        .iter()
        .filter_map(|server| {
            let mut urls: Vec<String> = Vec::new();
            for url in server.urls.iter().filter_map(|u| TurnUrl::parse(u).ok()) {
                if url.secure || url.transport != TurnTransport::Udp {
                    continue;
                }
                let url = url.to_string();
                if urls.len() < left && !urls.contains(&url) {
                    urls.push(url);
                }
            }
            left -= urls.len();
            (!urls.is_empty()).then(|| RTCIceServer {
                urls,
                username: server.username.clone(),
                credential: server.credential.clone(),
            })
        })
        .collect()
}

/// Without a packet for this long, the connection is `disconnected` (webrtc-rs: 5 s).
pub const DISCONNECTED_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// And `failed` this long after that (the call reconnects).
const FAILED_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds a peer connection whose sockets bind `udp_addrs` (a wildcard means every non-loopback
/// interface; add `127.0.0.1:0` to reach a server on the same machine), which dials the
/// server's ICE-TCP candidate from `tcp_addrs` when UDP does not get through, with the server's
/// TURN servers (`relay_only`: through them alone).
pub async fn build(
    udp_addrs: &[String],
    tcp_addrs: &[String],
    ice_servers: &[IceServer],
    relay_only: bool,
) -> Result<ClientPeer, CoreError> {
    let mut me = salon_rtc::media_engine().map_err(CoreError::media)?;
    // Our video goes out in simulcast layers, named by the mid and rid header extensions.
    configure_simulcast_extension_headers(&mut me).map_err(CoreError::media)?;
    let registry = register_default_interceptors(Registry::new(), &mut me)
        .map_err(CoreError::media)?
        .with(
            salon_rtc::keyframe::SLOT.into(),
            salon_rtc::keyframe::KeyframeRequests::default(),
        );
    let (handler, events, gathering) = ChannelHandler::new();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(turn_servers(ice_servers))
                .with_ice_transport_policy(if relay_only {
                    RTCIceTransportPolicy::Relay
                } else {
                    RTCIceTransportPolicy::All
                })
                .build(),
        )
        .with_media_engine(me)
        // An ICE restart (a new network) binds the sockets again: the interfaces there are now,
        // not the ones the call started on. No mDNS: the only peer is the server, which never
        // sends `.local` candidates; and its multicast socket fails to open on a network with
        // no default route (ENODEV), which would end the call (or its restart) for nothing.
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_discard_local_candidates_during_ice_restart(true)
                // Noticed soon enough to restart ICE (`super::ice`) before the server gives up
                // on us; a binding request every second keeps the path checked.
                .with_ice_timeouts(
                    Some(DISCONNECTED_AFTER),
                    Some(FAILED_AFTER),
                    Some(std::time::Duration::from_secs(1)),
                )
                .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                .build(),
        )
        .with_interceptor_registry(registry)
        .with_handler(handler as Arc<dyn PeerConnectionEventHandler>)
        .with_udp_addrs(udp_addrs.to_vec())
        .with_tcp_addrs(if relay_only {
            Vec::new()
        } else {
            tcp_addrs.to_vec()
        })
        .build()
        .await
        .map_err(CoreError::network)?;
    Ok(ClientPeer {
        pc: Arc::new(pc),
        gathering,
        events,
        connected: false,
        was_connected: false,
        failed: false,
        restart_due: false,
        dials_tcp: !relay_only && !tcp_addrs.is_empty(),
        has_udp: !udp_addrs.is_empty(),
        tcp_later: None,
    })
}

/// The local SDP once ICE gathering completes (or after a short wait).
pub async fn local_sdp(peer: &mut ClientPeer) -> Result<String, CoreError> {
    salon_rtc::events::local_sdp_when_gathered(&peer.pc, &mut peer.gathering)
        .await
        .ok_or_else(|| CoreError::network("no local description"))
}

/// Our offer that restarts ICE (fresh credentials, candidates gathered again on the interfaces
/// there are now), once gathered: its SDP, to send.
pub async fn restart_offer(peer: &mut ClientPeer) -> Result<String, CoreError> {
    let offer = peer
        .pc
        .create_offer(Some(RTCOfferOptions { ice_restart: true }))
        .await
        .map_err(CoreError::media)?;
    // The first gathering's `complete` must not count for this one: wait for the state to move
    // (briefly: a fast gathering may be over before we look).
    peer.gathering.mark_unchanged();
    peer.pc
        .set_local_description(offer)
        .await
        .map_err(CoreError::media)?;
    let _ = tokio::time::timeout(GATHERING_STARTS_WITHIN, peer.gathering.changed()).await;
    local_sdp(peer).await
}

/// How long a restart waits for its gathering to begin.
const GATHERING_STARTS_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes back our offer that the server's crossed (it refuses ours; we answer its own).
pub async fn roll_back(peer: &ClientPeer) -> Result<(), CoreError> {
    let rollback = RTCSessionDescription::rollback(None).map_err(CoreError::media)?;
    peer.pc
        .set_local_description(rollback)
        .await
        .map_err(CoreError::media)
}

/// How long UDP gets to connect before the server's ICE-TCP candidate is dialled as well.
/// TCP is the fallback for networks that let no UDP out, never a path next to working UDP:
/// webrtc-rs writes to a TCP stream inside its connection's event loop and waits for the
/// kernel to take every byte, so a TCP path whose network vanished holds that whole
/// connection up until the kernel gives the stream up.
pub const TCP_FALLBACK_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);

/// An answer without its TCP candidates, and the server's passive ones among them (RTP
/// component, each once: every bundled media section repeats them).
pub fn split_tcp_candidates(sdp: &str) -> (String, Vec<String>) {
    let mut kept = String::with_capacity(sdp.len());
    let mut passive: Vec<String> = Vec::new();
    for line in sdp.split_inclusive('\n') {
        let text = line.trim();
        let Some(candidate) = text
            .strip_prefix("a=")
            .filter(|c| c.starts_with("candidate:"))
        else {
            kept.push_str(line);
            continue;
        };
        let fields: Vec<&str> = candidate.split_ascii_whitespace().collect();
        if !fields.get(2).is_some_and(|t| t.eq_ignore_ascii_case("tcp")) {
            kept.push_str(line);
            continue;
        }
        let rtp_passive = fields.len() >= 8
            && fields[1] == "1"
            && fields
                .windows(2)
                .any(|w| w[0] == "tcptype" && w[1] == "passive");
        if rtp_passive && !passive.iter().any(|c| c == candidate) {
            passive.push(candidate.to_owned());
        }
    }
    (kept, passive)
}

/// Applies the server's answer. Its ICE-TCP candidates are held back ([`ClientPeer::tcp_later`]):
/// webrtc-rs would pair them at once and fail the pair while no stream exists (it opens TCP
/// connections only for candidates given to `add_ice_candidate`), and TCP must not race UDP.
/// Without UDP addresses they are dialled at once.
pub async fn apply_answer(peer: &mut ClientPeer, sdp: &str) -> Result<(), CoreError> {
    let (without_tcp, tcp) = split_tcp_candidates(sdp);
    let answer = RTCSessionDescription::answer(without_tcp).map_err(CoreError::media)?;
    peer.pc
        .set_remote_description(answer)
        .await
        .map_err(CoreError::media)?;
    peer.tcp_later = None;
    if peer.dials_tcp && !tcp.is_empty() {
        let wait = if peer.has_udp {
            TCP_FALLBACK_AFTER
        } else {
            std::time::Duration::ZERO
        };
        peer.tcp_later = Some((Instant::now() + wait, tcp));
        if !peer.has_udp {
            dial_tcp(peer).await;
        }
    }
    Ok(())
}

/// Dials the server's ICE-TCP candidates held back from the last answer (UDP did not connect in
/// time). Failing here costs only the TCP path.
pub async fn dial_tcp(peer: &mut ClientPeer) {
    let Some((_, candidates)) = peer.tcp_later.take() else {
        return;
    };
    for candidate in candidates {
        let init = RTCIceCandidateInit {
            candidate,
            ..Default::default()
        };
        if let Err(e) = peer.pc.add_ice_candidate(init).await {
            tracing::debug!(error = %e, "cannot dial the server's ICE-TCP candidate");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_tcp_candidates;

    #[test]
    fn the_answers_tcp_candidates_are_held_back_and_the_passive_one_kept_once() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n\
            a=candidate:2 1 tcp 2124414975 192.0.2.1 40000 typ host tcptype passive\r\n\
            a=candidate:2 2 tcp 2124414974 192.0.2.1 40000 typ host tcptype passive\r\n\
            a=candidate:3 1 tcp 2128609279 192.0.2.1 9 typ host tcptype active\r\n\
            a=end-of-candidates\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
            a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n\
            a=candidate:2 1 tcp 2124414975 192.0.2.1 40000 typ host tcptype passive\r\n";
        let (kept, passive) = split_tcp_candidates(sdp);
        assert_eq!(
            passive,
            ["candidate:2 1 tcp 2124414975 192.0.2.1 40000 typ host tcptype passive"]
        );
        assert_eq!(
            kept,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n\
             a=end-of-candidates\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
             a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host\r\n"
        );
        // Nothing to hold back: the answer is left as it is.
        let plain = "v=0\r\na=candidate:1 1 udp 1 192.0.2.1 9 typ host\r\n";
        assert_eq!(split_tcp_candidates(plain), (plain.to_owned(), vec![]));
        assert!(split_tcp_candidates("a=candidate:x 1 tcp").1.is_empty());
    }
}
