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
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import org.salon.app.media.CaptureFormat
import org.salon.app.media.AudioOut
import org.salon.app.media.AudioRoute
import org.salon.app.media.CallMedia
import org.salon.app.media.FocusAction
import org.salon.app.media.FocusChange
import org.salon.app.media.FocusPolicy
import org.salon.app.media.NoMedia
import org.salon.app.media.PictureConverter
import org.salon.app.media.RouteChooser
import org.salon.app.net.NetworkChangePolicy
import org.salon.app.net.NetworkWatch
import org.salon.app.net.NoNetworkWatch
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.app.permissions.PermissionNote
import org.salon.app.service.OngoingCall
import org.salon.core.Call
import org.salon.core.Connection
import org.salon.core.E2ee
import org.salon.core.EndReason
import org.salon.core.Knock
import org.salon.core.MAX_CHAT_CHARS
import org.salon.core.Role
import org.salon.core.RoomState
import org.salon.core.SalonError
import org.salon.core.SalonService
import org.salon.core.CallEvent as CoreEvent

/** Everything the call screen shows. */
data class CallState(
    val roomName: String? = null,
    val status: CallStatus = CallStatus.Joining,
    val tiles: List<Tile> = emptyList(),
    /** Someone's screen share (one at a time): drawn large above everyone's tiles. */
    val share: Tile? = null,
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
    /** My microphone switch (a host's mute or a phone call turns it off). */
    val microphoneOn: Boolean = false,
    /** My camera switch. */
    val cameraOn: Boolean = false,
    /** The front camera is in use (else the back one). */
    val frontCamera: Boolean = true,
    /** Why the camera or microphone can't be used, with a button ([PermissionNote.actionLabel]); null if all is well. */
    val permissionNote: PermissionNote? = null,
    /** Where the sound goes now, and where it could go (the audio button cycles through them). */
    val audioRoute: AudioRoute? = null,
    val audioRoutes: List<AudioRoute> = emptyList(),
    /** The app is a picture-in-picture window: show only [pipTile], no controls. */
    val pictureInPicture: Boolean = false,
    /** The call's end-to-end encryption (the safety code); null in a room that is not encrypted. */
    val e2ee: E2ee? = null,
    /** The reactions to pick from (the core's eight, in its order). */
    val reactions: List<String> = emptyList(),
    /** My own reaction, floating for a moment (I have no tile of my own). */
    val myReaction: Floating? = null,
    /** My hand is up. */
    val handRaised: Boolean = false,
    /** Raised hands in queue order, me included (hosts only: they lower them). */
    val hands: List<RaisedHand> = emptyList(),
    /** The room's chat, oldest first. */
    val chat: List<ChatLine> = emptyList(),
    /** The chat panel is open (instead of the tiles). */
    val chatOpen: Boolean = false,
    /** What I am typing (at most [MAX_CHAT_CHARS]). */
    val chatDraft: String = "",
    /** Messages from others not seen yet (0 while the chat is open). */
    val unread: Int = 0,
    /** I own the room: I may clear the chat for everyone. */
    val canClearChat: Boolean = false,
    /** A host's panic pauses a guest's chat and reactions (the server would refuse them). */
    val chatPaused: Boolean = false,
) {
    /** The tile drawn big above the grid: someone's screen share, else the pinned one, else the only one. */
    val mainTile: Tile? get() = share ?: TileViews.mainTile(tiles.map { it.id }, pinned)?.let { id -> tiles.first { it.id == id } }

    /** The one tile a picture-in-picture window shows: a share, else who speaks loudest, else the [mainTile], else the first. */
    val pipTile: Tile? get() = share ?: tiles.firstOrNull { it.dominant } ?: mainTile ?: tiles.firstOrNull()

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
    /** Their keys could not be checked: they see and hear nothing of me (a broken-lock badge). */
    val unverified: Boolean = false,
    /** Their hand is up: their place in the queue, from 1. */
    val hand: Int? = null,
    /** Their reaction, floating over the tile for a moment. */
    val reaction: Floating? = null,
    /** A screen share (its [id] is the presenter's screen video id): large, labelled "Presenting". */
    val presenting: Boolean = false,
    /** For a share: the presenter's participant id (what a host stops). */
    val presenter: String? = null,
)

/** A reaction shown for [CallViewModel.REACTION_MS]; [seq] tells a repeated emoji from the last one. */
data class Floating(val emoji: String, val seq: Long)

/** A raised hand in the queue ([position] from 1); [mine] when it is my own. */
data class RaisedHand(val participantId: String, val name: String, val position: Int, val mine: Boolean = false)

/**
 * One chat message as shown: [text] is plain text, never markup; null when it can't be read with
 * this link (sealed under a key this device never held).
 */
data class ChatLine(val id: Long, val name: String, val text: String?, val mine: Boolean)

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

    /** (Hosts) stops [participantId]'s screen share. */
    data class StopShare(val participantId: String) : CallEvent

    data class Remove(val participantId: String) : CallEvent

    // My media.
    /** Turns my microphone on or off (asking for the permission first if needed). */
    data object ToggleMicrophone : CallEvent

    /** Turns my camera on or off (asking for the permission first if needed). */
    data object ToggleCamera : CallEvent

    /** Front camera ⇄ back camera. */
    data object FlipCamera : CallEvent

    /** The audio button: the next route (speaker, phone, headphones, Bluetooth). */
    data object NextAudioRoute : CallEvent

    data class PickAudioRoute(val route: AudioRoute) : CallEvent

    /** The permission line's button: ask again, or open the app's settings after "don't ask again". */
    data object FixPermissions : CallEvent

    // Reactions, hands and chat.
    data class React(val emoji: String) : CallEvent

    /** Raises my hand, or lowers it. */
    data object ToggleHand : CallEvent

    /** (Hosts) lowers one person's hand. */
    data class LowerHand(val participantId: String) : CallEvent

    /** (Hosts) lowers every hand. */
    data object LowerAllHands : CallEvent

    data object OpenChat : CallEvent

    data object CloseChat : CallEvent

    /** The chat field's text changed (cut at [MAX_CHAT_CHARS]). */
    data class ChatDraft(val text: String) : CallEvent

    /** Sends the draft (trimmed; nothing if blank). */
    data object SendChat : CallEvent

    /** (The owner) deletes the chat for everyone. */
    data object ClearChat : CallEvent
}

/**
 * Joins the room behind [link] as [myName] and shows it. With [wantCamera] / [wantMicrophone] it
 * first asks for those permissions (in context, through [media]) and joins with what was granted,
 * explaining the rest ([CallState.permissionNote]); the camera and microphone then follow my
 * switches in the room's state (my toggles, a host's mute, a phone call taking the audio), and
 * the core hears of changes of the default network ([network]). The core's test pattern can
 * stand in for the camera.
 */
class CallViewModel(
    private val salon: SalonService,
    private val link: String,
    private val myName: String,
    private val appScope: CoroutineScope,
    private val media: CallMedia = NoMedia,
    private val network: NetworkWatch = NoNetworkWatch,
    private val wantCamera: Boolean = false,
    private val wantMicrophone: Boolean = false,
    /** The room's name for the ongoing-call notification until the room says its own. */
    private val title: String = "",
    /**
     * A call the pre-join screen already joined, with what it was granted: shown as it is, with
     * no second permission request or join.
     */
    private val preJoined: Pair<Call, MediaGrant>? = null,
) : ViewModel() {
    private val mutableState = MutableStateFlow(CallState(reactions = salon.reactions))
    val state: StateFlow<CallState> = mutableState.asStateFlow()
    private val pictures = MutableStateFlow<Map<String, Bitmap>>(emptyMap())
    private val pinned = MutableStateFlow<String?>(null)
    private val shown = MutableStateFlow<TilesShown?>(null)
    private var call: Call? = null
    private var testPattern: Job? = null
    private val testPatternOn = MutableStateFlow(false)
    private val frontCamera = MutableStateFlow(true)
    private var grant = MediaGrant(camera = false, microphone = false)
    private val focus = FocusPolicy()
    private var ongoing: OngoingCall.Active? = null
    private var mediaEnded = false

    /** Reactions floating now, by participant id (mine under my own id). */
    private val floating = MutableStateFlow<Map<String, Floating>>(emptyMap())
    private var floatSeq = 0L

    /** The newest chat message id seen with the chat open. */
    private var readUpTo = 0L

    init {
        viewModelScope.launch {
            val wanted = buildSet {
                if (wantCamera) add(Capture.Camera)
                if (wantMicrophone) add(Capture.Microphone)
            }
            if (preJoined == null && wanted.isNotEmpty()) {
                grant = media.requestPermissions(wanted)
                mutableState.update { it.copy(permissionNote = grant.note) }
            }
            val joined =
                if (preJoined != null) {
                    grant = preJoined.second
                    mutableState.update { it.copy(permissionNote = grant.note) }
                    preJoined.first
                } else {
                    try {
                        salon.join(link, CaptureFormat.joinOptions(myName, microphoneOn = grant.microphone, cameraOn = grant.camera))
                    } catch (e: SalonError) {
                        // Encryption's refusals (a link without its key...) are sentences for people: as they are.
                        val why = if (e is SalonError.E2ee) e.reason else e.message ?: "could not join"
                        mutableState.update { it.copy(status = CallStatus.Ended(why)) }
                        return@launch
                    }
                }
            call = joined
            startMedia(joined)
            launch { combine(joined.state, pictures, pinned, floating, ::show).collect { shown -> mutableState.value = shown } }
            launch {
                // Views follow who is here, the pin and the grid's reports; never the pictures or
                // the speakers, so this runs when what is shown changes, not per frame.
                val views = TileViews(joined::setView)
                val ids = joined.state.map { room -> room.participants.map { it.id } }.distinctUntilChanged()
                combine(ids, pinned, shown) { ids, pin, shown -> Triple(ids, pin, shown) }
                    .collect { (ids, pin, shown) -> views.update(ids, TileViews.mainTile(ids, pin), shown) }
            }
            launch {
                joined.events().collect { event ->
                    if (event is CoreEvent.Reaction) float(event) else mutableState.update { it.copy(notice = event.describe()) }
                }
            }
            launch(Dispatchers.Default) {
                // Converted here, off the main thread, into reused Bitmaps: the UI only draws the newest.
                val converter = PictureConverter()
                joined.videoFrames().collect { remote ->
                    val here = joined.state.value.participants
                    // Everyone's camera, and the share of whoever presents.
                    val videos = here.size + here.count { it.screen }
                    if (converter.participants > videos) {
                        val ids = HashSet<String>()
                        for (p in here) {
                            ids += p.id
                            if (p.screen) ids += p.screenVideoId
                        }
                        converter.keepOnly(ids)
                        pictures.update { all -> all.filterKeys { it in ids } }
                    }
                    val bitmap = converter.toBitmap(remote.participantId, remote.frame)
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
            is CallEvent.StopShare -> host { it.stopShare(event.participantId) }
            is CallEvent.Remove -> host { it.remove(event.participantId) }
            CallEvent.ToggleMicrophone -> toggle(Capture.Microphone)
            CallEvent.ToggleCamera -> toggle(Capture.Camera)
            CallEvent.FlipCamera -> frontCamera.update { !it }
            CallEvent.NextAudioRoute -> RouteChooser.next(state.value.audioRoutes, state.value.audioRoute)?.let(media::pickRoute)
            is CallEvent.PickAudioRoute -> media.pickRoute(event.route)
            CallEvent.FixPermissions -> fixPermissions()
            is CallEvent.React -> host { it.react(event.emoji) }
            CallEvent.ToggleHand -> host { it.raiseHand(!state.value.handRaised) }
            is CallEvent.LowerHand -> host { it.lowerHands(event.participantId) }
            CallEvent.LowerAllHands -> host { it.lowerHands(null) }
            CallEvent.OpenChat -> {
                readUpTo = maxOf(readUpTo, call?.state?.value?.chat?.maxOfOrNull { it.id } ?: 0L)
                mutableState.update { it.copy(chatOpen = true, unread = 0) }
            }
            CallEvent.CloseChat -> mutableState.update { it.copy(chatOpen = false) }
            is CallEvent.ChatDraft -> mutableState.update { it.copy(chatDraft = event.text.take(MAX_CHAT_CHARS)) }
            CallEvent.SendChat -> sendChat()
            CallEvent.ClearChat -> host { it.clearChat() }
        }
    }

    /** Floats [reaction] over its sender's tile for [REACTION_MS]; a newer one replaces it. */
    private fun float(reaction: CoreEvent.Reaction) {
        val shown = Floating(reaction.emoji, ++floatSeq)
        floating.update { it + (reaction.participantId to shown) }
        viewModelScope.launch {
            delay(REACTION_MS)
            floating.update { if (it[reaction.participantId] == shown) it - reaction.participantId else it }
        }
    }

    private fun sendChat() {
        val text = state.value.chatDraft.trim()
        if (text.isEmpty()) return
        val call = call ?: return
        try {
            call.sendChat(text)
            mutableState.update { it.copy(chatDraft = "") }
        } catch (e: SalonError) {
            mutableState.update { it.copy(notice = e.message) }
        }
    }

    /**
     * The phone's side of the call: the ongoing-call service and audio session, the default
     * network, then the camera and microphone following my switches (and the permissions),
     * until the call ends.
     */
    private fun CoroutineScope.startMedia(joined: Call) {
        val active = OngoingCall.Active(joined.state.value.roomName ?: title.ifEmpty { "a room" }) { onEvent(CallEvent.Leave) }
        ongoing = active
        OngoingCall.begin(active)
        media.beginCall(active.roomName, joined.state.value.cameraOn && grant.camera, ::onFocus)
        watchNetwork(joined)
        launch {
            joined.state.map { it.microphoneOn && grant.microphone }.distinctUntilChanged().collect { on ->
                if (on) media.startMicrophone { pcm -> joined.sendAudioFrame(pcm) } else media.stopMicrophone()
            }
        }
        launch {
            val cameraWanted = joined.state.map { it.cameraOn }.distinctUntilChanged()
            combine(cameraWanted, testPatternOn, frontCamera) { on, pattern, front -> Triple(on && !pattern && grant.camera, front, pattern) }
                .distinctUntilChanged()
                .collect { (on, front, _) ->
                    if (on) media.startCamera(front) { frame -> joined.sendVideoFrame(frame) } else media.stopCamera()
                    media.cameraChanged(on)
                }
        }
        launch { joined.state.map { it.videoWatched }.distinctUntilChanged().collect(media::setCameraSending) }
        launch { frontCamera.collect { front -> mutableState.update { it.copy(frontCamera = front) } } }
        launch {
            media.routes.collect { routes -> mutableState.update { it.copy(audioRoute = routes.current, audioRoutes = routes.available) } }
        }
        launch { OngoingCall.pictureInPicture.collect { pip -> mutableState.update { it.copy(pictureInPicture = pip) } } }
        launch {
            // A call that ends by itself (removed, the room ended) lets the camera and microphone go too.
            joined.state.first { it.connection is Connection.Ended }
            endMedia()
        }
    }

    /**
     * Another default network (Wi-Fi to mobile data, a VPN) or new addresses on it: the core
     * restarts ICE, so the media moves without the call being left and joined again. Until the
     * call ends ([endMedia]).
     */
    private fun watchNetwork(joined: Call) {
        val policy = NetworkChangePolicy(network.current)
        network.start { event ->
            if (policy.onEvent(event)) {
                try {
                    joined.onNetworkChanged()
                } catch (e: SalonError.CallEnded) {
                    // A change racing the end of the call: there is nothing left to move.
                }
            }
        }
    }

    /** Another call took the audio (a phone call): my microphone goes off, and back on after. */
    private fun onFocus(change: FocusChange) {
        val call = call ?: return
        when (val action = focus.onChange(change, call.state.value.microphoneOn)) {
            FocusAction.Nothing -> Unit
            is FocusAction.MuteMicrophone -> {
                runCatching { call.setMicrophone(false) }
                mutableState.update { it.copy(notice = action.notice) }
            }
            is FocusAction.RestoreMicrophone ->
                try {
                    call.setMicrophone(true)
                    mutableState.update { it.copy(notice = action.notice) }
                } catch (e: SalonError) {
                    mutableState.update { it.copy(notice = e.message) }
                }
        }
    }

    /** My microphone or camera switch; turning one on without its permission asks for it first. */
    private fun toggle(what: Capture) {
        val call = call ?: return
        val room = call.state.value
        val on = if (what == Capture.Camera) room.cameraOn else room.microphoneOn
        if (what == Capture.Microphone) focus.userChangedMicrophone()
        if (on) {
            set(call, what, false)
            return
        }
        val granted = if (what == Capture.Camera) grant.camera else grant.microphone
        if (granted) {
            set(call, what, true)
            return
        }
        viewModelScope.launch {
            val answer = media.requestPermissions(setOf(what))
            grant = if (what == Capture.Camera) grant.copy(camera = answer.camera) else grant.copy(microphone = answer.microphone)
            mutableState.update { it.copy(permissionNote = answer.note) }
            if (answer.note == null) set(call, what, true)
        }
    }

    private fun set(call: Call, what: Capture, on: Boolean) {
        try {
            if (what == Capture.Camera) call.setCamera(on) else call.setMicrophone(on)
        } catch (e: SalonError) {
            mutableState.update { it.copy(notice = e.message) }
        }
    }

    /** The permission line's button: the dialog again, or the settings after "don't ask again". */
    private fun fixPermissions() {
        val note = state.value.permissionNote ?: return
        if (note.settingsNeeded) {
            media.openAppSettings()
            return
        }
        val call = call ?: return
        viewModelScope.launch {
            val answer = media.requestPermissions(note.missing)
            grant = MediaGrant(camera = grant.camera || answer.camera, microphone = grant.microphone || answer.microphone)
            mutableState.update { it.copy(permissionNote = answer.note) }
            if (answer.camera && Capture.Camera in note.missing) set(call, Capture.Camera, true)
            if (answer.microphone && Capture.Microphone in note.missing) set(call, Capture.Microphone, true)
        }
    }

    private fun endMedia() {
        if (mediaEnded) return
        mediaEnded = true
        network.stop()
        media.endCall()
        ongoing?.let(OngoingCall::end)
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

    private fun show(room: RoomState, pictures: Map<String, Bitmap>, pin: String?, floating: Map<String, Floating>): CallState {
        val queue = Hands.queue(room)
        val current = mutableState.value
        if (current.chatOpen) readUpTo = maxOf(readUpTo, room.chat.maxOfOrNull { it.id } ?: 0L)
        return current.copy(
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
                        unverified = Encryption.unverified(room.e2ee, p.id),
                        hand = queue.firstOrNull { it.participantId == p.id }?.position,
                        reaction = floating[p.id],
                    )
                },
            share =
                room.participants.firstOrNull { it.screen }?.let { p ->
                    Tile(
                        p.screenVideoId,
                        "${p.name}'s screen",
                        speaking = false,
                        muted = false,
                        cameraOff = false,
                        picture = pictures[p.screenVideoId],
                        canModerate = room.role.isHost && room.role > p.role,
                        presenting = true,
                        presenter = p.id,
                    )
                },
            isHost = room.isHost,
            locked = room.locked,
            panic = room.panic,
            knocks = room.knocks,
            link = room.link,
            pinned = pin?.takeIf { id -> room.participants.any { it.id == id } },
            videoWatched = room.videoWatched,
            microphoneOn = room.microphoneOn,
            cameraOn = room.cameraOn,
            e2ee = room.e2ee,
            myReaction = room.me?.let { floating[it] },
            handRaised = room.myHand != null,
            hands = if (room.isHost) queue else emptyList(),
            chat = room.chat.map { ChatLine(it.id, if (it.from == room.me) "You" else it.name, it.text, mine = it.from == room.me) },
            unread = if (current.chatOpen) 0 else room.chat.count { it.id > readUpTo && it.from != room.me },
            canClearChat = room.role == Role.Owner,
            chatPaused = room.panic && !room.isHost,
        )
    }

    private fun toggleTestPattern() {
        val call = call ?: return
        val running = testPattern
        if (running != null) {
            running.cancel()
            testPattern = null
            // Throws CallEnded once the call is over: nothing to turn off then.
            runCatching { call.setCamera(false) }
            testPatternOn.value = false
        } else {
            try {
                testPatternOn.value = true
                call.setCamera(true)
            } catch (e: SalonError) {
                testPatternOn.value = false
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
        endMedia()
        appScope.launch { call.leave() }
    }

    override fun onCleared() {
        leave()
    }

    companion object {
        /** How long a reaction floats over a tile. */
        const val REACTION_MS = 2_000L
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
        is CoreEvent.Reaction -> emoji
    }
