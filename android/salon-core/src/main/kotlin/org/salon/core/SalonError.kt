package org.salon.core

/**
 * Everything the core can refuse, as one sealed hierarchy an app can `when` over. The generated
 * `SalonException` is mapped to it in one place (`FfiMapping.kt`), so UI code never catches
 * generated types, and a new error in Rust fails compilation there instead of slipping through.
 */
sealed class SalonError(message: String, cause: Throwable? = null) : Exception(message, cause) {
    class RoomNotFound(cause: Throwable? = null) : SalonError("room not found", cause)

    class RoomFull(cause: Throwable? = null) : SalonError("the room is full", cause)

    class InvalidLink(val reason: String, cause: Throwable? = null) : SalonError("invalid link: $reason", cause)

    class InvalidInput(val reason: String, cause: Throwable? = null) : SalonError("invalid input: $reason", cause)

    class Network(val reason: String, cause: Throwable? = null) : SalonError("network error: $reason", cause)

    class Server(val reason: String, cause: Throwable? = null) : SalonError("server error: $reason", cause)

    /** The server speaks another protocol version: update the app. */
    class Incompatible(val reason: String, cause: Throwable? = null) : SalonError("incompatible server: $reason", cause)

    class Media(val reason: String, cause: Throwable? = null) : SalonError("media error: $reason", cause)

    class Storage(val reason: String, cause: Throwable? = null) : SalonError("storage error: $reason", cause)

    class DuplicateFriend(cause: Throwable? = null) : SalonError("this friend is already in your list", cause)

    class NotFound(cause: Throwable? = null) : SalonError("not found", cause)

    class CallEnded(cause: Throwable? = null) : SalonError("the call has ended", cause)

    /** A host removed me from this room, or I am banned from it. */
    class Removed(cause: Throwable? = null) : SalonError("you were removed from this room", cause)

    /** A host did not let me in (or turned me away twice already). */
    class KnockDenied(cause: Throwable? = null) : SalonError("the host didn't let you in", cause)

    /** A host ended the call for everyone. */
    class RoomEnded(cause: Throwable? = null) : SalonError("the host ended the call", cause)

    /** Not now: e.g. turning the microphone on while a host holds every guest's off (panic). */
    class NotAllowed(val reason: String, cause: Throwable? = null) : SalonError("not allowed: $reason", cause)

    /**
     * End-to-end encryption stands in the way: a link without its key (the part after #), or a
     * server that says an encrypted room is not. [reason] is a sentence written for people: show it
     * as it is.
     */
    class E2ee(val reason: String, cause: Throwable? = null) : SalonError(reason, cause)

    /** A bug in the core (including a Rust panic). */
    class Internal(val reason: String, cause: Throwable? = null) : SalonError("internal error: $reason", cause)
}
