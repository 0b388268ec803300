//! The client's peer connection: the same codec set as the server, our keyframe interceptor (so
//! the encoder hears keyframe requests), events on a channel.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCPeerConnectionState, Registry, register_default_interceptors,
};

use crate::error::CoreError;

pub enum PeerEvent {
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
}

struct Handler {
    events: mpsc::UnboundedSender<PeerEvent>,
    gathering: watch::Sender<RTCIceGatheringState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(PeerEvent::State(state));
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.gathering.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(PeerEvent::Track(track));
    }
}

pub struct ClientPeer {
    pub pc: Arc<dyn PeerConnection>,
    pub gathering: watch::Receiver<RTCIceGatheringState>,
    pub events: mpsc::UnboundedReceiver<PeerEvent>,
}

/// Builds a peer connection whose sockets bind `udp_addrs` (a wildcard means every non-loopback
/// interface; add `127.0.0.1:0` to reach a server on the same machine).
pub async fn build(udp_addrs: &[String]) -> Result<ClientPeer, CoreError> {
    let mut me = salon_rtc::media_engine().map_err(CoreError::media)?;
    let registry = register_default_interceptors(Registry::new(), &mut me)
        .map_err(CoreError::media)?
        .with(
            salon_rtc::keyframe::SLOT.into(),
            salon_rtc::keyframe::KeyframeRequests::default(),
        );
    let (events_tx, events) = mpsc::unbounded_channel();
    let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            events: events_tx,
            gathering: gathering_tx,
        }) as Arc<dyn PeerConnectionEventHandler>)
        .with_udp_addrs(udp_addrs.to_vec())
        .build()
        .await
        .map_err(CoreError::network)?;
    Ok(ClientPeer {
        pc: Arc::new(pc),
        gathering,
        events,
    })
}

/// The local SDP once ICE gathering completes (or after a short wait).
pub async fn local_sdp(peer: &mut ClientPeer) -> Result<String, CoreError> {
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        peer.gathering
            .wait_for(|s| *s == RTCIceGatheringState::Complete),
    )
    .await;
    peer.pc
        .local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| CoreError::network("no local description"))
}
