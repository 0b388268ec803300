package org.salon.app

import android.Manifest
import android.net.Uri
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.Composable
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import kotlinx.coroutines.CoroutineScope
import org.salon.app.call.CallRoute
import org.salon.app.call.CallViewModel
import org.salon.app.friends.FriendsRoute
import org.salon.app.friends.FriendsViewModel
import org.salon.core.SalonService

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as SalonApplication
        // "Door opened" comes as a local notification (Android 13+ asks the user first).
        if (Build.VERSION.SDK_INT >= 33) requestPermissions(arrayOf(Manifest.permission.POST_NOTIFICATIONS), 1)
        val notifications = DoorNotifications(this)
        setContent {
            MaterialTheme {
                SalonNavigation(app.salon, app.myName, app.appScope, onDoorOpened = notifications::show)
            }
        }
    }
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
) {
    val nav = rememberNavController()
    NavHost(navController = nav, startDestination = "friends") {
        composable("friends") {
            FriendsRoute(
                viewModel = viewModel { FriendsViewModel(salon) },
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
