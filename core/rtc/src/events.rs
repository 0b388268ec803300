//! A peer-connection event handler that turns webrtc's callbacks into a channel of
//! [`PeerEvent`]s (handled in order by one task) and a watch of the ICE gathering state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

/// What a peer connection tells its owner.
pub enum PeerEvent {
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
}

/// The handler to give `PeerConnectionBuilder::with_handler`.
pub struct ChannelHandler {
    events: mpsc::UnboundedSender<PeerEvent>,
    gathering: watch::Sender<RTCIceGatheringState>,
}

impl ChannelHandler {
    /// The handler, the event stream and the gathering state.
    pub fn new() -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<PeerEvent>,
        watch::Receiver<RTCIceGatheringState>,
    ) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (gathering, gathering_rx) = watch::channel(RTCIceGatheringState::New);
        (
            Arc::new(Self { events, gathering }),
            events_rx,
            gathering_rx,
        )
    }

    /// A handler whose events go to an existing channel.
    pub fn with_events(
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> (Arc<Self>, watch::Receiver<RTCIceGatheringState>) {
        let (gathering, gathering_rx) = watch::channel(RTCIceGatheringState::New);
        (Arc::new(Self { events, gathering }), gathering_rx)
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for ChannelHandler {
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

/// How long to wait for ICE gathering before sending an SDP anyway.
pub const GATHER_TIMEOUT: Duration = Duration::from_secs(3);

/// The local SDP once ICE gathering is complete (or after [`GATHER_TIMEOUT`]), so it carries
/// the candidates. `None` when there is no local description.
pub async fn local_sdp_when_gathered(
    pc: &Arc<dyn PeerConnection>,
    gathering: &mut watch::Receiver<RTCIceGatheringState>,
) -> Option<String> {
    let _ = tokio::time::timeout(
        GATHER_TIMEOUT,
        gathering.wait_for(|s| *s == RTCIceGatheringState::Complete),
    )
    .await;
    pc.local_description().await.map(|d| d.sdp)
}
