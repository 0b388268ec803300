//! Builds the server side of one participant's peer connection; its callbacks arrive as
//! [`PeerEvent`]s on a channel, so the participant's task handles them in order.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Where and how media sockets bind.
#[derive(Clone)]
pub struct MediaSettings {
    pub bind_ip: IpAddr,
    pub public_ip: Option<IpAddr>,
    pub ports: Arc<Mutex<PortPool>>,
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
pub async fn build(
    settings: &MediaSettings,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> Result<Peer, PeerError> {
    let (handler, gathering) = ChannelHandler::with_events(events);

    // A port in the range may be held by another program: try a few before giving up.
    let mut last_err = None;
    for _ in 0..16 {
        let port = PortLease::take(&settings.ports).ok_or(PeerError::NoPort)?;
        let addr = std::net::SocketAddr::new(settings.bind_ip, port.port).to_string();
        let mut me = salon_rtc::media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut me)?
            .with(keyframe::SLOT.into(), KeyframeRequests::default());
        let mut se = SettingEngineBuilder::new().with_ice_timeouts(
            Some(Duration::from_secs(3)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_secs(1)),
        );
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
