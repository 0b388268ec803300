//! Builds the server side of one participant's peer connection; its callbacks arrive as
//! [`PeerEvent`]s on a channel, so the participant's task handles them in order.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;

use salon_rtc::events::ChannelHandler;
pub use salon_rtc::events::PeerEvent;
use tokio::sync::{mpsc, watch};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateType, RTCIceGatheringState, Registry, SettingEngineBuilder,
    register_default_interceptors,
};

use crate::ports::{PortLease, PortPool};
use salon_rtc::keyframe::{self, KeyframeRequests};

/// How long a participant's media may take to connect after it is let in, before its seat and
/// port are given back.
pub const MEDIA_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A remote candidate that does not answer gets `MAX_BINDING_REQUESTS + 1` connectivity checks
/// from the server, 200 ms apart (the library's default sends 8). Real clients check the server
/// themselves, and the server answers those whatever this says; this only bounds what a client
/// can make the server send to an address it merely names.
const MAX_BINDING_REQUESTS: u16 = 2;

/// Where and how media sockets bind.
#[derive(Clone)]
pub struct MediaSettings {
    pub bind_ip: IpAddr,
    pub public_ip: Option<IpAddr>,
    pub ports: Arc<Mutex<PortPool>>,
    /// How long media may take to connect ([`MEDIA_CONNECT_TIMEOUT`] unless changed).
    pub connect_timeout: SharedDuration,
    /// The server's counters (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
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

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("no free UDP port for media in the configured range")]
    NoPort,
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
}

/// A built peer connection with the port it holds.
pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    pub gathering: watch::Receiver<RTCIceGatheringState>,
    _port: PortLease,
}

/// Builds a peer connection bound to one port from the pool.
/// Keyframe requests from the subscriber arrive on `keyframe_requests` as the SSRC they are
/// about.
pub async fn build(
    settings: &MediaSettings,
    events: mpsc::UnboundedSender<PeerEvent>,
    keyframe_requests: mpsc::Sender<u32>,
) -> Result<Peer, PeerError> {
    let (handler, gathering) = ChannelHandler::with_events(events);

    // A port in the range may be held by another program: try a few before giving up.
    let mut last_err = None;
    for _ in 0..16 {
        let port = PortLease::take(&settings.ports).ok_or(PeerError::NoPort)?;
        let addr = std::net::SocketAddr::new(settings.bind_ip, port.port).to_string();
        let mut me = salon_rtc::media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut me)?.with(
            keyframe::SLOT.into(),
            KeyframeRequests::reporting_to(keyframe_requests.clone()),
        );
        let mut se = SettingEngineBuilder::new()
            .with_ice_timeouts(
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(6)),
                Some(Duration::from_secs(1)),
            )
            .with_ice_connection_attempts(None, Some(MAX_BINDING_REQUESTS))
            // No mDNS at all: no multicast socket per peer connection, and a client's `.local`
            // candidates never make the server query the LAN (they are also dropped before
            // they reach the agent, see `candidates`).
            .with_multicast_dns_mode(MulticastDnsMode::Disabled);
        if let Some(ip) = settings.public_ip {
            se = se.with_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Host);
        }
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(se.build())
            .with_interceptor_registry(registry)
            .with_handler(handler.clone() as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec![addr])
            .build()
            .await;
        match built {
            Ok(pc) => {
                return Ok(Peer {
                    pc: Arc::new(pc),
                    gathering,
                    _port: port,
                });
            }
            Err(e) => {
                tracing::debug!(port = port.port, error = %e, "could not build a peer connection on this port");
                last_err = Some(e);
            }
        }
    }
    Err(last_err.map_or(PeerError::NoPort, PeerError::Webrtc))
}
