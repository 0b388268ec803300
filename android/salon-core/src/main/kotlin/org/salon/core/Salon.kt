package org.salon.core

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow

/**
 * What an app can do with Salon: keep a friend list, create rooms, see whether a room is open,
 * and join one. Apps depend on this interface; [RustSalonService] implements it over the Rust
 * core and [FakeSalonService] in memory for UI tests and previews.
 *
 * Every function is main-safe: blocking work (SQLite) runs on an I/O dispatcher and network work
 * on the core's own runtime. Failures are thrown as [SalonError].
 */
interface SalonService : AutoCloseable {
    /** The core's version, e.g. "0.1.0". */
    val coreVersion: String

    // --- Friends -------------------------------------------------------------------------------

    suspend fun friends(): List<Friend>

    /** Adds a friend by the link of their room. The same room twice is [SalonError.DuplicateFriend]. */
    suspend fun addFriend(name: String, roomLink: String, notes: String = ""): Friend

    /** Adds a friend from a card made by [friendCard] (`salon:friend?…` or its web form). */
    suspend fun addFriendFromCard(card: String): Friend

    /** [SalonError.NotFound] if there is no such friend. */
    suspend fun renameFriend(id: Long, name: String)

    /** [SalonError.NotFound] if there is no such friend. */
    suspend fun setFriendNotes(id: Long, notes: String)

    /** Whether a friend was removed. */
    suspend fun removeFriend(id: Long): Boolean

    /** A card a friend can add me from: my name and one of my rooms. */
    suspend fun friendCard(myName: String, roomLink: String): String

    // --- Rooms ---------------------------------------------------------------------------------

    /** Creates a room on [server] (e.g. "https://salon.example.org") and remembers it as mine. */
    suspend fun createRoom(server: String, name: String? = null): MyRoom

    suspend fun myRooms(): List<MyRoom>

    /** Whether a room of mine was forgotten (the room itself stays on its server). */
    suspend fun forgetMyRoom(id: String): Boolean

    /** Whether the room behind [link] exists and who is in it; [SalonError.RoomNotFound] if not. */
    suspend fun roomStatus(link: String): RoomStatus

    /** Joins the room behind [link]. Returns once connected; see [Call.state] from then on. */
    suspend fun join(link: String, options: JoinOptions): Call

    // --- Media helpers -------------------------------------------------------------------------

    /** A synthetic moving picture (frame [index] of a 30 fps sequence), for demos without a camera. */
    fun testPatternFrame(width: Int, height: Int, index: Long): I420Frame
}

/**
 * A joined room. [state] always holds the latest snapshot; [videoFrames] and [audioFrames] are
 * cold flows of what other participants send, from the moment of collection. After [leave] the
 * media flows complete and [state] ends on [Connection.Ended].
 */
interface Call {
    /** The room as it is now: who is here, who speaks, the connection. */
    val state: StateFlow<RoomState>

    /**
     * Decoded pictures of every other participant. A slow collector sees only the newest picture
     * (older ones are dropped, never queued), so the core's decoder thread is never held up.
     */
    fun videoFrames(): Flow<RemoteFrame>

    /** Decoded audio of every other participant, 10–20 ms at a time; about a second is buffered. */
    fun audioFrames(): Flow<RemoteAudio>

    /** What has arrived from each other participant so far, ordered by participant id. */
    fun remoteStats(): List<RemoteStats>

    /** Sends a camera picture. Never blocks; once the call is over it throws [SalonError.CallEnded]. */
    fun sendVideoFrame(frame: I420Frame)

    /** Sends 10 or 20 ms of 48 kHz mono PCM (480 or 960 samples). Never blocks. */
    fun sendAudioFrame(pcm: ShortArray)

    fun setMicrophone(on: Boolean)

    fun setCamera(on: Boolean)

    /** Leaves the room. Safe to call more than once. */
    suspend fun leave()
}
