package org.salon.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** The local friend list through the wrapper, on a real database (no server needed). */
class FriendsTest {
    private val dir = tempDir("salon-friends")
    private lateinit var salon: SalonService

    @BeforeEach
    fun open() {
        requireNativeLibrary()
        salon = RustSalonService(dir.path)
    }

    @AfterEach
    fun close() {
        salon.close()
        dir.deleteRecursively()
    }

    @Test
    fun `add, rename, annotate, list and remove friends`() =
        runBlocking<Unit> {
            assertEquals(emptyList(), salon.friends())
            val ada = salon.addFriend("Ada", "https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA")
            val bob = salon.addFriend("Bob", "salon.example.org/r/BBBBBBBBBBBBBBBBBBBBBB/", notes = "neighbour")
            // Links are kept in canonical form.
            assertEquals("https://salon.example.org/r/BBBBBBBBBBBBBBBBBBBBBB", bob.roomLink)
            assertEquals(listOf("Ada", "Bob"), salon.friends().map { it.name })

            salon.renameFriend(ada.id, "Ada L.")
            salon.setFriendNotes(ada.id, "met at the park")
            val renamed = salon.friends().single { it.id == ada.id }
            assertEquals("Ada L.", renamed.name)
            assertEquals("met at the park", renamed.notes)
            assertTrue(renamed.addedAt > 0)

            assertTrue(salon.removeFriend(bob.id))
            assertFalse(salon.removeFriend(bob.id))
            assertEquals(listOf(ada.id), salon.friends().map { it.id })
        }

    @Test
    fun `the list survives reopening the database`() =
        runBlocking<Unit> {
            salon.addFriend("Ada", "https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA")
            salon.close()
            salon = RustSalonService(dir.path)
            assertEquals(listOf("Ada"), salon.friends().map { it.name })
        }

    @Test
    fun `a friend card round-trips to another phone`() =
        runBlocking<Unit> {
            val link = "https://salon.example.org/r/CCCCCCCCCCCCCCCCCCCCCC"
            val card = salon.friendCard("Zoë & co", link)
            assertTrue(card.startsWith("https://salon.example.org/friend?v=1&"), card)

            val otherDir = tempDir("salon-friends-other")
            RustSalonService(otherDir.path).use { other ->
                val friend = other.addFriendFromCard(card)
                assertEquals("Zoë & co", friend.name)
                assertEquals(link, friend.roomLink)
                assertEquals(listOf(friend), other.friends())
            }
            otherDir.deleteRecursively()
        }

    @Test
    fun `errors come back as SalonError`() =
        runBlocking<Unit> {
            val link = "https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA"
            salon.addFriend("Ada", link)
            // The same room twice, even written differently, is a duplicate.
            assertFailsWith<SalonError.DuplicateFriend> { salon.addFriend("Ada again", "$link/") }
            assertFailsWith<SalonError.InvalidLink> { salon.addFriend("Eve", "not a link") }
            assertFailsWith<SalonError.InvalidLink> { salon.addFriendFromCard("hello there") }
            assertFailsWith<SalonError.NotFound> { salon.renameFriend(9_999, "Nobody") }
            assertEquals(1, salon.friends().size)
        }
}
