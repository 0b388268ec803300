package org.salon.app.net

/**
 * What the system said about the default network (the one the app's sockets use), without
 * Android: a network by its handle (`Network.getNetworkHandle()`), its addresses as text.
 */
sealed interface NetworkEvent {
    /** [network] is the default network (`onAvailable`). */
    data class Available(val network: Long) : NetworkEvent

    /** Its capabilities changed (`onCapabilitiesChanged`): bandwidth, signal, validation, metering. */
    data class Capabilities(val network: Long) : NetworkEvent

    /** Its link properties changed (`onLinkPropertiesChanged`); [addresses] are its addresses now. */
    data class Addresses(val network: Long, val addresses: Set<String>) : NetworkEvent

    /** [network] went and no other network took its place (`onLost`). */
    data class Lost(val network: Long) : NetworkEvent
}

/**
 * Whether a default-network callback means the call's media has to move, that is, the call
 * restarts ICE (`Call.onNetworkChanged`): the default network became another one, came back
 * after being lost, or kept its identity with other addresses (a new DHCP lease, IPv6
 * renumbering). [current] is the default network when watching starts (null: none), so the
 * callbacks that describe it right after registering change nothing; nor do capability updates
 * of the same network, which come often (bandwidth, signal strength) and would only interrupt
 * the media if each restarted ICE.
 */
class NetworkChangePolicy(private var current: Long?) {
    /** The current network's addresses, once a callback said them. */
    private var addresses: Set<String>? = null

    /** Whether the call should be told about [event]. */
    fun onEvent(event: NetworkEvent): Boolean =
        when (event) {
            is NetworkEvent.Available -> moveTo(event.network)
            is NetworkEvent.Capabilities -> moveTo(event.network)
            is NetworkEvent.Addresses -> {
                val moved = moveTo(event.network)
                val before = addresses
                addresses = event.addresses
                moved || (before != null && before != event.addresses)
            }
            is NetworkEvent.Lost -> {
                if (event.network == current) {
                    current = null
                    addresses = null
                }
                // Nothing to move to: the next network to come is the change.
                false
            }
        }

    /** Every callback names the default network: another one than [current] is a change. */
    private fun moveTo(network: Long): Boolean {
        if (network == current) return false
        current = network
        addresses = null
        return true
    }
}
