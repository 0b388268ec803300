package org.salon.app.net

import org.junit.Assert.assertEquals
import org.junit.Test

/** Which default-network callbacks make the call restart ICE. */
class NetworkChangePolicyTest {
    private val wifi = 100L
    private val cell = 200L
    private val vpn = 300L

    /** The policy's answer to each event, in order. */
    private fun NetworkChangePolicy.answers(vararg events: NetworkEvent) = events.map(::onEvent)

    @Test
    fun `the callbacks right after registering describe the current network and change nothing`() {
        val policy = NetworkChangePolicy(current = wifi)
        assertEquals(
            listOf(false, false, false),
            policy.answers(
                NetworkEvent.Available(wifi),
                NetworkEvent.Capabilities(wifi),
                NetworkEvent.Addresses(wifi, setOf("192.168.1.20", "fe80::1")),
            ),
        )
    }

    @Test
    fun `capability updates of the same network change nothing`() {
        val policy = NetworkChangePolicy(current = cell)
        policy.onEvent(NetworkEvent.Addresses(cell, setOf("10.0.0.7")))
        // Bandwidth and signal strength, again and again.
        assertEquals(List(5) { false }, policy.answers(*Array(5) { NetworkEvent.Capabilities(cell) }))
        // Link properties with the same addresses (routes, DNS servers).
        assertEquals(false, policy.onEvent(NetworkEvent.Addresses(cell, setOf("10.0.0.7"))))
    }

    @Test
    fun `another default network is one change, whatever callbacks follow it`() {
        val policy = NetworkChangePolicy(current = wifi)
        policy.onEvent(NetworkEvent.Addresses(wifi, setOf("192.168.1.20")))
        // Wi-Fi to mobile data: Android names the new default network, then describes it.
        assertEquals(
            listOf(true, false, false),
            policy.answers(
                NetworkEvent.Available(cell),
                NetworkEvent.Capabilities(cell),
                NetworkEvent.Addresses(cell, setOf("10.0.0.7")),
            ),
        )
        // A VPN comes up, then goes: each is a change.
        assertEquals(true, policy.onEvent(NetworkEvent.Available(vpn)))
        assertEquals(true, policy.onEvent(NetworkEvent.Available(cell)))
    }

    @Test
    fun `new addresses on the same network are a change`() {
        val policy = NetworkChangePolicy(current = wifi)
        policy.onEvent(NetworkEvent.Addresses(wifi, setOf("192.168.1.20")))
        assertEquals(true, policy.onEvent(NetworkEvent.Addresses(wifi, setOf("192.168.1.35"))))
        assertEquals(true, policy.onEvent(NetworkEvent.Addresses(wifi, setOf("192.168.1.35", "2001:db8::5"))))
        assertEquals(false, policy.onEvent(NetworkEvent.Addresses(wifi, setOf("2001:db8::5", "192.168.1.35"))))
    }

    @Test
    fun `losing the network changes nothing, the next one does, even the same one again`() {
        val policy = NetworkChangePolicy(current = wifi)
        assertEquals(false, policy.onEvent(NetworkEvent.Lost(wifi)))
        assertEquals(true, policy.onEvent(NetworkEvent.Available(wifi)))
        assertEquals(false, policy.onEvent(NetworkEvent.Addresses(wifi, setOf("192.168.1.20"))))
        // A network that is not the default one any more going away is no news.
        policy.onEvent(NetworkEvent.Available(cell))
        assertEquals(false, policy.onEvent(NetworkEvent.Lost(wifi)))
        assertEquals(false, policy.onEvent(NetworkEvent.Capabilities(cell)))
    }

    @Test
    fun `without a network when watching starts, the first one is a change`() {
        val policy = NetworkChangePolicy(current = null)
        assertEquals(
            listOf(true, false, false),
            policy.answers(NetworkEvent.Available(cell), NetworkEvent.Capabilities(cell), NetworkEvent.Addresses(cell, setOf("10.0.0.7"))),
        )
    }

    @Test
    fun `a network that changed between reading the current one and registering is a change`() {
        // The callbacks after registering name the network that is the default by then.
        val policy = NetworkChangePolicy(current = wifi)
        assertEquals(true, policy.onEvent(NetworkEvent.Available(cell)))
    }
}
