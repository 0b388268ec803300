package org.salon.app.call

import android.graphics.Bitmap
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.combine
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import org.salon.app.media.AudioOut
import org.salon.app.media.PictureConverter
import org.salon.core.Call
import org.salon.core.Connection
import org.salon.core.EndReason
import org.salon.core.JoinOptions
import org.salon.core.Knock
import org.salon.core.RoomState
import org.salon.core.SalonError
import org.salon.core.SalonService
import org.salon.core.CallEvent as CoreEvent

/** Everything the call screen shows. */
data class CallState(
    val roomName: String? = null,
    val status: CallStatus = CallStatus.Joining,
    val tiles: List<Tile> = emptyList(),
    val sendingTestPattern: Boolean = false,
    /** Owner or co-host: the host menu, the lobby and each tile's menu are shown. */
    val isHost: Boolean = false,
    val locked: Boolean = false,
    val panic: Boolean = false,
    /** People waiting in the lobby (hosts only). */
    val knocks: List<Knock> = emptyList(),
    /** The invite link to share (changes after "New link"). */
    val link: String? = null,
    /** A one-off message: a host asked me to mute, muted me, or refused something. */
    val notice: String? = null,
    /** The tile I pinned (drawn big), while they are here. */
    val pinned: String? = null,
    /** Somebody shows my video; while false the core sends none and the test picture pauses. */
    val videoWatched: Boolean = true,
) {
    /** The tile drawn big above the grid: the pinned one, else the only one. */
    val mainTile: Tile? get() = TileViews.mainTile(tiles.map { it.id }, pinned)?.let { id -> tiles.first { it.id == id } }

    /** The tiles in the grid: everyone but the [mainTile]. */
    val gridTiles: List<Tile> get() = mainTile?.let { main -> tiles.filter { it.id != main.id } } ?: tiles
}

sealed interface CallStatus {
    data object Joining : CallStatus

    /** In the lobby of a locked room until a host lets me in. */
    data class Waiting(val hostPresent: Boolean) : CallStatus

    data object Live : CallStatus

    data class Reconnecting(val attempt: Int) : CallStatus

    data class Ended(val why: String) : CallStatus
}

/** One other person: their name, whether they speak or are muted, and their latest picture. */
data class Tile(
    val id: String,
    val name: String,
    val speaking: Boolean,
    /** The loudest speaker now (first of the room's speakers): a stronger ring. */
    val dominant: Boolean = false,
    val muted: Boolean,
    val cameraOff: Boolean,
    val picture: Bitmap?,
    /** Whether I may ask them to mute, mute or remove them (I am a host of a higher role). */
    val canModerate: Boolean = false,
)

/** Everything the user can do in a call. */
sealed interface CallEvent {
    /** Sends a moving test picture as my camera, for trying Salon without a camera. */
    data object ToggleTestPattern : CallEvent

    data object Leave : CallEvent

    data object DismissNotice : CallEvent

    /** What the grid shows now (see [TilesShown]); the core is told what changed. */
    data class Shown(val shown: TilesShown) : CallEvent

    /** Draws [participantId] big (and tells the core so); pinning them again unpins. */
    data class Pin(val participantId: String) : CallEvent

    // Host actions.
    data object ToggleLock : CallEvent

    data object TogglePanic : CallEvent

    data object NewLink : CallEvent

    data object EndForEveryone : CallEvent

    data class Admit(val knockId: String) : CallEvent

    data class Deny(val knockId: String) : CallEvent

    data class AskToMute(val participantId: String) : CallEvent

    data class Mute(val participantId: String) : CallEvent

    data class Remove(val participantId: String) : CallEvent
}

/**
 * Joins the room behind [link] as [myName] and shows it. The phone's own camera and microphone
 * are not captured yet: it joins with both off, and can send the core's test pattern instead.
 */
class CallViewModel(
    private val salon: SalonService,
    private val link: String,
    private val myName: String,
    private val appScope: CoroutineScope,
) : ViewModel() {
    private val mutableState = MutableStateFlow(CallState())
    val state: StateFlow<CallState> = mutableState.asStateFlow()
    private val pictures = MutableStateFlow<Map<String, Bitmap>>(emptyMap())
    private val pinned = MutableStateFlow<String?>(null)
    private val shown = MutableStateFlow<TilesShown?>(null)
    private var call: Call? = null
    private var testPattern: Job? = null

    init {
        viewModelScope.launch {
            val joined =
                try {
                    salon.join(link, JoinOptions(name = myName, microphoneOn = false, cameraOn = false))
                } catch (e: SalonError) {
                    mutableState.update { it.copy(status = CallStatus.Ended(e.message ?: "could not join")) }
                    return@launch
                }
            call = joined
            launch { combine(joined.state, pictures, pinned, ::show).collect { shown -> mutableState.value = shown } }
            launch {
                // Views follow who is here, the pin and the grid's reports; never the pictures or
                // the speakers, so this runs when what is shown changes, not per frame.
                val views = TileViews(joined::setView)
                val ids = joined.state.map { room -> room.participants.map { it.id } }.distinctUntilChanged()
                combine(ids, pinned, shown) { ids, pin, shown -> Triple(ids, pin, shown) }
                    .collect { (ids, pin, shown) -> views.update(ids, TileViews.mainTile(ids, pin), shown) }
            }
            launch { joined.events().collect { event -> mutableState.update { it.copy(notice = event.describe()) } } }
            launch(Dispatchers.Default) {
                val converter = PictureConverter()
                joined.videoFrames().collect { remote ->
                    val bitmap = converter.toBitmap(remote.frame)
                    pictures.update { it + (remote.participantId to bitmap) }
                }
            }
            launch(Dispatchers.Default) {
                AudioOut().use { out ->
                    coroutineScope {
                        val pruning = launch { joined.state.collect { room -> out.keepOnly(room.participants.map { it.id }.toSet()) } }
                        // Completes when the call is left.
                        joined.audioFrames().collect { out.play(it) }
                        pruning.cancel()
                    }
                }
            }
        }
    }

    fun onEvent(event: CallEvent) {
        when (event) {
            CallEvent.ToggleTestPattern -> toggleTestPattern()
            CallEvent.Leave -> leave()
            CallEvent.DismissNotice -> mutableState.update { it.copy(notice = null) }
            is CallEvent.Shown -> shown.value = event.shown
            is CallEvent.Pin -> pinned.update { if (it == event.participantId) null else event.participantId }
            CallEvent.ToggleLock -> host { it.setLocked(!state.value.locked) }
            CallEvent.TogglePanic -> host { it.setPanic(!state.value.panic) }
            CallEvent.NewLink -> host { it.rotateLink() }
            CallEvent.EndForEveryone -> host { it.endRoom() }
            is CallEvent.Admit -> host { it.admit(event.knockId) }
            is CallEvent.Deny -> host { it.deny(event.knockId) }
            is CallEvent.AskToMute -> host { it.askToMute(event.participantId) }
            is CallEvent.Mute -> host { it.mute(event.participantId) }
            is CallEvent.Remove -> host { it.remove(event.participantId) }
        }
    }

    /** A host action: the result shows in the state; a refusal arrives as an event. */
    private fun host(action: (Call) -> Unit) {
        val call = call ?: return
        try {
            action(call)
        } catch (e: SalonError) {
            mutableState.update { it.copy(notice = e.message) }
        }
    }

    private fun show(room: RoomState, pictures: Map<String, Bitmap>, pin: String?): CallState =
        mutableState.value.copy(
            roomName = room.roomName,
            status =
                when (val c = room.connection) {
                    Connection.Connecting -> CallStatus.Joining
                    is Connection.Waiting -> CallStatus.Waiting(c.hostPresent)
                    Connection.Connected -> CallStatus.Live
                    is Connection.Reconnecting -> CallStatus.Reconnecting(c.attempt)
                    is Connection.Ended -> CallStatus.Ended(c.reason.describe())
                },
            tiles =
                room.participants.map { p ->
                    Tile(
                        p.id,
                        p.name,
                        speaking = p.speaking,
                        dominant = p.id == room.dominantSpeaker,
                        muted = !p.audioOn,
                        cameraOff = !p.videoOn,
                        picture = pictures[p.id],
                        canModerate = room.role.isHost && room.role > p.role,
                    )
                },
            isHost = room.isHost,
            locked = room.locked,
            panic = room.panic,
            knocks = room.knocks,
            link = room.link,
            pinned = pin?.takeIf { id -> room.participants.any { it.id == id } },
            videoWatched = room.videoWatched,
        )

    private fun toggleTestPattern() {
        val call = call ?: return
        val running = testPattern
        if (running != null) {
            running.cancel()
            testPattern = null
            call.setCamera(false)
        } else {
            try {
                call.setCamera(true)
            } catch (e: SalonError) {
                mutableState.update { it.copy(notice = e.message) }
                return
            }
            testPattern =
                viewModelScope.launch(Dispatchers.Default) {
                    var index = 0L
                    while (isActive) {
                        try {
                            // Nobody shows my video: the core would drop the picture, so make none.
                            if (call.state.value.videoWatched) call.sendVideoFrame(salon.testPatternFrame(640, 360, index++))
                        } catch (e: SalonError) {
                            break
                        }
                        delay(66) // about 15 pictures a second
                    }
                }
        }
        mutableState.update { it.copy(sendingTestPattern = testPattern != null) }
    }

    /** Leaves on the app's scope, so that leaving finishes even as this screen goes away. */
    private fun leave() {
        testPattern?.cancel()
        val call = call ?: return
        appScope.launch { call.leave() }
    }

    override fun onCleared() {
        leave()
    }
}

private fun EndReason.describe(): String =
    when (this) {
        EndReason.Left -> "You left"
        EndReason.RoomNotFound -> "This room no longer exists"
        EndReason.RoomFull -> "The room is full"
        EndReason.Incompatible -> "Update Salon to join this room"
        EndReason.Removed -> "You were removed from this room"
        EndReason.KnockDenied -> "The host didn't let you in"
        EndReason.RoomEnded -> "The host ended the call"
        is EndReason.Error -> message
    }

private fun CoreEvent.describe(): String =
    when (this) {
        is CoreEvent.MuteRequested -> "$by asks you to mute your microphone"
        is CoreEvent.Muted -> "$by turned your microphone off"
        is CoreEvent.Refused -> message
    }
