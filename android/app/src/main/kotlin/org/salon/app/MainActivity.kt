package org.salon.app

import android.Manifest
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import org.salon.app.call.CallRoute
import org.salon.app.call.CallViewModel
import org.salon.app.friends.FriendsEvent
import org.salon.app.friends.FriendsRoute
import org.salon.app.friends.FriendsViewModel
import org.salon.core.SalonService

class MainActivity : ComponentActivity() {
    /** The invite link or friend card the app was opened with, until the screens have acted on it. */
    private val opened = MutableStateFlow<OpenedLink?>(null)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // A link opens the app once, not again when the activity is recreated (rotation).
        if (savedInstanceState == null) opened.value = linkOf(intent)
        val app = application as SalonApplication
        // "Door opened" comes as a local notification (Android 13+ asks the user first).
        if (Build.VERSION.SDK_INT >= 33) requestPermissions(arrayOf(Manifest.permission.POST_NOTIFICATIONS), 1)
        val notifications = DoorNotifications(this)
        setContent {
            MaterialTheme {
                SalonNavigation(
                    app.salon,
                    app.myName,
                    app.appScope,
                    onDoorOpened = notifications::show,
                    opened = opened,
                    onOpenedHandled = { opened.value = null },
                )
            }
        }
    }

    /** Another link while the app runs (`singleTask`: the same activity gets it). */
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        linkOf(intent)?.let { opened.value = it }
    }

    private fun linkOf(intent: Intent?): OpenedLink? =
        if (intent?.action == Intent.ACTION_VIEW) openedLink(intent.dataString) else null
}

/**
 * Two screens: the rooms (mine and my friends'), and a call. Each call screen is its own back stack entry, so its
 * ViewModel (and with it the call) goes away when the screen is left.
 */
@Composable
fun SalonNavigation(
    salon: SalonService,
    myName: String,
    appScope: CoroutineScope,
    onDoorOpened: (String) -> Unit = {},
    opened: StateFlow<OpenedLink?> = MutableStateFlow(null),
    onOpenedHandled: () -> Unit = {},
) {
    val nav = rememberNavController()
    val link by opened.collectAsState()
    // An invite link joins its room from wherever the app is; a friend card goes to the rooms
    // screen, which adds the friend.
    LaunchedEffect(link) {
        when (val l = link) {
            is OpenedLink.Room -> {
                onOpenedHandled()
                nav.navigate("call/${Uri.encode(l.link)}/${Uri.encode(l.host)}")
            }
            is OpenedLink.Friend -> nav.navigate("friends") {
                popUpTo("friends")
                launchSingleTop = true
            }
            null -> Unit
        }
    }
    NavHost(navController = nav, startDestination = "friends") {
        composable("friends") {
            val friends = viewModel { FriendsViewModel(salon) }
            val card = (link as? OpenedLink.Friend)?.card
            LaunchedEffect(card) {
                if (card != null) {
                    onOpenedHandled()
                    friends.onEvent(FriendsEvent.AddFriend(name = "", linkOrCard = card))
                }
            }
            FriendsRoute(
                viewModel = friends,
                onDropIn = { friend -> nav.navigate("call/${Uri.encode(friend.roomLink)}/${Uri.encode(friend.name)}") },
                onEnterMyRoom = { room -> nav.navigate("call/${Uri.encode(room.link)}/${Uri.encode(room.name)}") },
                onDoorOpened = onDoorOpened,
            )
        }
        composable("call/{link}/{title}") { entry ->
            val link = entry.arguments?.getString("link").orEmpty()
            val title = entry.arguments?.getString("title").orEmpty()
            CallRoute(
                viewModel = viewModel { CallViewModel(salon, link, myName, appScope) },
                title = title,
                onClose = { nav.popBackStack() },
            )
        }
    }
}
