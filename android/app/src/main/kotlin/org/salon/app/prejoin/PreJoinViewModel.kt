package org.salon.app.prejoin

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.salon.app.media.CaptureFormat
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.app.permissions.PermissionNote
import org.salon.core.Call
import org.salon.core.JoinOptions
import org.salon.core.SalonError
import org.salon.core.SalonService

/** Everything the pre-join screen shows. */
data class PreJoinState(
    /** What to call the room until the server names it (a friend's name, "My room"). */
    val title: String,
    val room: RoomInfo = RoomInfo.Checking,
    /** The name others will see. */
    val name: String = "",
    val cameraOn: Boolean = true,
    val microphoneOn: Boolean = true,
    /** A camera or microphone permission was refused: the line to explain it and its button. */
    val permission: PermissionNote? = null,
    /** Join was pressed and the room has not answered yet. */
    val joining: Boolean = false,
    val error: String? = null,
) {
    /** The room's own name once known, else [title]. */
    val roomName: String get() = (room as? RoomInfo.Ready)?.name?.takeIf { it.isNotBlank() } ?: title

    val cameraAllowed: Boolean get() = permission?.missing?.contains(Capture.Camera) != true

    val microphoneAllowed: Boolean get() = permission?.missing?.contains(Capture.Microphone) != true

    /** The camera will be on when joining: wanted and allowed. */
    val cameraLive: Boolean get() = cameraOn && cameraAllowed

    val microphoneLive: Boolean get() = microphoneOn && microphoneAllowed

    val canJoin: Boolean get() = !joining && name.isNotBlank() && room != RoomInfo.Gone
}

/** The room as its server last said, before joining. */
sealed interface RoomInfo {
    data object Checking : RoomInfo

    data class Ready(
        val name: String?,
        val people: Int,
        /** Who is inside, when the owner shows names. */
        val names: List<String>? = null,
        val full: Boolean = false,
        /** Newcomers wait in the lobby until a host lets them in. */
        val locked: Boolean = false,
    ) : RoomInfo

    /** The room no longer exists. */
    data object Gone : RoomInfo

    /** Its server could not be asked; joining may still work. */
    data object Unreachable : RoomInfo
}

/** The status line under the room's name. */
fun RoomInfo.label(): String =
    when (this) {
        RoomInfo.Checking -> "Checking the room…"
        RoomInfo.Gone -> "This room no longer exists"
        RoomInfo.Unreachable -> "Can't reach the room's server right now"
        is RoomInfo.Ready -> {
            val inside =
                when {
                    full -> "The room is full"
                    people == 0 -> "Nobody is inside yet"
                    people == 1 -> "1 person inside"
                    else -> "$people people inside"
                }
            val who = if (!full && !names.isNullOrEmpty()) ": " + names.joinToString(", ") else ""
            inside + who + if (locked) " · Locked: a host lets you in" else ""
        }
    }

sealed interface PreJoinEvent {
    data class NameChanged(val name: String) : PreJoinEvent

    data object ToggleCamera : PreJoinEvent

    data object ToggleMicrophone : PreJoinEvent

    /** What the permission flow found (null: everything wanted is granted). */
    data class PermissionChanged(val note: PermissionNote?) : PreJoinEvent

    /** The button of the permission line ("Allow" or "Open settings"): handled by the platform. */
    data object PermissionAction : PreJoinEvent

    data object Join : PreJoinEvent

    /** Ask the room again (after "can't reach"). */
    data object Refresh : PreJoinEvent

    data object DismissError : PreJoinEvent

    /** Handled by navigation. */
    data object Back : PreJoinEvent
}

/**
 * What joining gave: the call, in (or in the lobby), how it was joined, and the line explaining
 * a refused permission, if any.
 */
class Joined(val call: Call, val options: JoinOptions, val note: PermissionNote? = null)

/**
 * Before joining the room behind [link]: shows whether it is there and who is inside
 * ([SalonService.peek], else [SalonService.roomStatus]), lets me set my name ([savedName] to
 * start with; [rememberName] stores it once a join worked), camera and microphone; then joins
 * and puts the call in [joined] for the call screen. Errors stay on this screen, in words.
 *
 * On Join, [requestPermissions] (the platform's, e.g. `CallMedia::requestPermissions`; null:
 * nothing to ask) is asked for what is switched on; the call is joined with what was granted,
 * and the rest is explained ([PreJoinState.permission]).
 */
class PreJoinViewModel(
    private val salon: SalonService,
    private val link: String,
    title: String,
    savedName: String,
    private val rememberName: (String) -> Unit = {},
    private val requestPermissions: (suspend (Set<Capture>) -> MediaGrant)? = null,
) : ViewModel() {
    private val mutableState = MutableStateFlow(PreJoinState(title = title, name = savedName))
    val state: StateFlow<PreJoinState> = mutableState.asStateFlow()
    private val mutableJoined = MutableStateFlow<Joined?>(null)

    /** Set once the join worked; navigation moves on to the call screen. */
    val joined: StateFlow<Joined?> = mutableJoined.asStateFlow()
    private var checking: Job? = null

    init {
        check()
    }

    fun onEvent(event: PreJoinEvent) {
        when (event) {
            is PreJoinEvent.NameChanged -> mutableState.update { it.copy(name = event.name, error = null) }
            PreJoinEvent.ToggleCamera -> mutableState.update { it.copy(cameraOn = !it.cameraOn) }
            PreJoinEvent.ToggleMicrophone -> mutableState.update { it.copy(microphoneOn = !it.microphoneOn) }
            is PreJoinEvent.PermissionChanged -> mutableState.update { it.copy(permission = event.note) }
            PreJoinEvent.Join -> join()
            PreJoinEvent.Refresh -> check()
            PreJoinEvent.DismissError -> mutableState.update { it.copy(error = null) }
            PreJoinEvent.PermissionAction, PreJoinEvent.Back -> Unit
        }
    }

    private fun check() {
        checking?.cancel()
        checking =
            viewModelScope.launch {
                mutableState.update { it.copy(room = RoomInfo.Checking) }
                val room =
                    try {
                        val peek = salon.peek(link)
                        RoomInfo.Ready(peek.name, peek.people, peek.names, peek.full, peek.locked)
                    } catch (e: SalonError.RoomNotFound) {
                        RoomInfo.Gone
                    } catch (e: SalonError) {
                        // Some servers answer only the plain status.
                        try {
                            val status = salon.roomStatus(link)
                            RoomInfo.Ready(status.name, status.participants, full = status.full)
                        } catch (e: SalonError.RoomNotFound) {
                            RoomInfo.Gone
                        } catch (e: SalonError) {
                            RoomInfo.Unreachable
                        }
                    }
                mutableState.update { it.copy(room = room) }
            }
    }

    private fun join() {
        val now = state.value
        if (now.joining || joined.value != null) return
        val name = now.name.trim()
        if (name.isEmpty()) {
            mutableState.update { it.copy(error = "Enter the name others will see.") }
            return
        }
        mutableState.update { it.copy(joining = true, error = null) }
        viewModelScope.launch {
            var camera = now.cameraLive
            var microphone = now.microphoneLive
            val ask = requestPermissions
            if (ask != null) {
                val wanted = buildSet {
                    if (now.cameraOn) add(Capture.Camera)
                    if (now.microphoneOn) add(Capture.Microphone)
                }
                if (wanted.isNotEmpty()) {
                    val grant = ask(wanted)
                    camera = now.cameraOn && grant.camera
                    microphone = now.microphoneOn && grant.microphone
                    mutableState.update { it.copy(permission = grant.note) }
                }
            }
            val options = CaptureFormat.joinOptions(name, microphoneOn = microphone, cameraOn = camera)
            try {
                val call = salon.join(link, options)
                rememberName(name)
                mutableJoined.value = Joined(call, options, state.value.permission)
                mutableState.update { it.copy(joining = false) }
            } catch (e: SalonError) {
                val room = if (e is SalonError.RoomNotFound) RoomInfo.Gone else state.value.room
                mutableState.update { it.copy(joining = false, room = room, error = joinErrorMessage(e)) }
            }
        }
    }
}

/** Why joining did not work, for people. */
fun joinErrorMessage(e: SalonError): String =
    when (e) {
        is SalonError.RoomNotFound -> "This room no longer exists. Ask for a new link."
        is SalonError.RoomFull -> "The room is full. Try again in a while."
        is SalonError.Removed -> "A host removed you from this room, so you can't join it again."
        is SalonError.KnockDenied -> "The host didn't let you in."
        is SalonError.RoomEnded -> "The host ended the call."
        is SalonError.Network -> "Can't reach the room's server. Check your connection and try again."
        is SalonError.Incompatible -> "This room's server needs another version of Salon: update the app."
        is SalonError.InvalidLink -> "This link is not a Salon room."
        is SalonError.InvalidInput -> "Check your name: ${e.reason}."
        is SalonError.Media -> "Your camera or microphone could not be started."
        // Written for people by the core ("This link is missing its key (the part after #)…"): as it is.
        is SalonError.E2ee -> e.reason
        else -> "Could not join: ${e.message}"
    }
