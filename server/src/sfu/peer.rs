//! Builds the server side of one participant's peer connection: a sans-IO
//! `rtc::RTCPeerConnection` with its own ICE credentials (how the shared media port tells
//! connections apart), the engine's one address as its only host candidate, Salon's codecs and
//! the interceptors the server needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{NackGeneratorBuilder, ReceiverReportBuilder, Registry, Slot};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};

use super::engine::Engine;
use super::feedback::{self, Tap};
use super::readside::{self, ReadSide};
use super::repair::{self, Repair};

/// How long a participant's media may take to connect after it is let in, before its seat is
/// given back.
pub const MEDIA_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A remote candidate that does not answer gets `MAX_BINDING_REQUESTS + 1` connectivity checks
/// from the server, 200 ms apart (the library's default sends 8). Real clients check the server
/// themselves, and the server answers those whatever this says; this only bounds what a client
/// can make the server send to an address it merely names.
const MAX_BINDING_REQUESTS: u16 = 2;

/// The media engine and the settings every participant's connection shares.
#[derive(Clone)]
pub struct MediaSettings {
    pub engine: Arc<Engine>,
    /// How long media may take to connect ([`MEDIA_CONNECT_TIMEOUT`] unless changed).
    pub connect_timeout: SharedDuration,
    /// The server's counters (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// TURN servers handed to clients (`--turn-url`), if any.
    pub turn: Option<Arc<crate::turn::Turn>>,
}

/// A duration that every clone of the settings shares, so that tests can shorten it on a running
/// server.
#[derive(Clone, Debug)]
pub struct SharedDuration(Arc<AtomicU64>);

impl SharedDuration {
    pub fn new(duration: Duration) -> Self {
        Self(Arc::new(AtomicU64::new(millis(duration))))
    }

    pub fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, duration: Duration) {
        self.0.store(millis(duration), Ordering::Relaxed);
    }
}

impl Default for SharedDuration {
    fn default() -> Self {
        Self::new(MEDIA_CONNECT_TIMEOUT)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A connection ready to be handed to the engine.
pub struct Built {
    pub pc: RTCPeerConnection,
    pub ufrag: String,
    pub password: String,
    pub feedback: feedback::Queue,
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The answer to a publisher's offer, asking it to use Opus discontinuous transmission: each
/// Opus `a=fmtp` line gets `usedtx=1` (unless it says otherwise). The library answers with the
/// offer's own parameters, and a browser turns DTX on only when the answer asks; then a silent
/// or muted microphone sends a packet every 400 ms instead of every 20 ms.
pub fn ask_for_dtx(sdp: &str) -> String {
    let opus: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, codec)| codec.to_ascii_lowercase().starts_with("opus/"))
        .map(|(pt, _)| pt)
        .collect();
    let mut out = String::with_capacity(sdp.len() + 16 * opus.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let is_opus_fmtp = body
            .strip_prefix("a=fmtp:")
            .and_then(|l| l.split_once(' '))
            .is_some_and(|(pt, params)| opus.contains(&pt) && !params.contains("usedtx="));
        if is_opus_fmtp {
            out.push_str(body);
            out.push_str(";usedtx=1");
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Builds a peer connection that advertises the engine's address.
pub fn build(engine: &Engine) -> Result<Built, rtc::shared::error::Error> {
    // 16 characters of [A-Za-z0-9]: 95 bits, not guessable, so a stray check cannot name
    // someone else's connection.
    let ufrag = random_string(16);
    let pwd = random_string(32);
    let feedback: feedback::Queue = Arc::new(Mutex::new(feedback::Inbox::default()));

    let mut me = salon_rtc::media_engine()?;
    // NACK (ask publishers for lost packets; subscribers' requests are the engine's, which
    // sends forwarded copies past this chain: `history`), transport-wide congestion control
    // feedback to publishers (the extension and the feedback type are negotiated both ways:
    // the engine numbers what it forwards and reads subscribers' feedback, `downlink`),
    // receiver reports. No sender reports of our own: the publishers' are passed on, translated. Simulcast:
    // `repair` makes the layers' retransmissions usable (rtc ignores them), and `feedback::Tap`
    // takes every received stream out of the chain into the engine (rtc forgets simulcast
    // layers at a renegotiation): `docs/adr/0002-simulcast.md`.
    // (The codecs in `salon_rtc::media_engine` already offer `nack` and `nack pli`.)
    // The interceptors that act only on what the connection receives sit behind one link of
    // the chain (`readside`), in their own order: every forwarded packet passes them in one
    // step instead of five.
    configure_simulcast_extension_headers(&mut me)?;
    let receiving = configure_twcc_receiver_only(
        Registry::new().with(Slot::NackGenerator, NackGeneratorBuilder::new().build()),
        &mut me,
    )?
    .with(Slot::ReceiverReport, ReceiverReportBuilder::new().build())
    .with(repair::SLOT.into(), Repair::new(feedback.clone()))
    .with(feedback::SLOT.into(), Tap::new(feedback.clone()))
    .build();
    let registry = Registry::new().with(readside::SLOT.into(), ReadSide::new(receiving));
    let se = SettingEngineBuilder::new()
        .with_ice_credentials(ufrag.clone(), pwd.clone())
        .with_ice_timeouts(
            Some(Duration::from_secs(3)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_secs(1)),
        )
        .with_ice_connection_attempts(None, Some(MAX_BINDING_REQUESTS))
        // No mDNS: a client's `.local` candidates never make the server query the LAN (they
        // are also dropped before they reach the agent, see `candidates`).
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_setting_engine(se)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    pc.add_local_candidate(salon_rtc::host_candidate(engine.advertised())?)?;
    // ICE-TCP after it (a lower priority): for clients whose network lets no UDP through.
    if let Some(tcp) = engine.advertised_tcp() {
        pc.add_local_candidate(salon_rtc::passive_tcp_candidate(tcp)?)?;
    }
    // End of candidates: there are only ever these.
    pc.add_local_candidate(RTCIceCandidateInit::default())?;
    Ok(Built {
        pc,
        ufrag,
        password: pwd,
        feedback,
    })
}

#[cfg(test)]
mod tests {
    use super::ask_for_dtx;

    #[test]
    fn dtx_is_asked_for_on_opus_only() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n\
                   a=fmtp:63 111/111\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n\
                   a=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1\r\n";
        let answer = ask_for_dtx(sdp);
        assert!(answer.contains("a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n"));
        assert!(answer.contains("a=fmtp:63 111/111\r\n"));
        assert!(answer.contains("a=fmtp:102 packetization-mode=1\r\n"));
        assert_eq!(answer.len(), sdp.len() + ";usedtx=1".len());
        // Said already (either way): left alone. No Opus: nothing changes.
        let said = sdp.replace("useinbandfec=1", "useinbandfec=1;usedtx=0");
        assert_eq!(ask_for_dtx(&said), said);
        assert_eq!(ask_for_dtx("v=0\r\n"), "v=0\r\n");
    }
}
