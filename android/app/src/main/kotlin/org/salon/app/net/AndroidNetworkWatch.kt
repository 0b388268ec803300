package org.salon.app.net

import android.content.Context
import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities
import android.os.Handler
import android.os.Looper

/**
 * [NetworkWatch] over `ConnectivityManager.registerDefaultNetworkCallback` (needs
 * `ACCESS_NETWORK_STATE`): the callbacks arrive on the main thread, as [NetworkEvent]s.
 * Call [start] and [stop] on the main thread.
 */
class AndroidNetworkWatch(context: Context) : NetworkWatch {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)
    private val main = Handler(Looper.getMainLooper())
    private var callback: ConnectivityManager.NetworkCallback? = null

    override val current: Long? get() = connectivity?.activeNetwork?.networkHandle

    override fun start(onEvent: (NetworkEvent) -> Unit) {
        if (callback != null || connectivity == null) return
        val watching =
            object : ConnectivityManager.NetworkCallback() {
                // A callback already queued on the main thread when [stop] ran is dropped.
                private fun send(event: NetworkEvent) {
                    if (callback === this) onEvent(event)
                }

                override fun onAvailable(network: Network) = send(NetworkEvent.Available(network.networkHandle))

                override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) =
                    send(NetworkEvent.Capabilities(network.networkHandle))

                override fun onLinkPropertiesChanged(network: Network, properties: LinkProperties) =
                    send(NetworkEvent.Addresses(network.networkHandle, properties.linkAddresses.mapNotNullTo(HashSet()) { it.address.hostAddress }))

                override fun onLost(network: Network) = send(NetworkEvent.Lost(network.networkHandle))
            }
        callback = watching
        connectivity.registerDefaultNetworkCallback(watching, main)
    }

    override fun stop() {
        val watching = callback ?: return
        callback = null
        connectivity?.unregisterNetworkCallback(watching)
    }
}
