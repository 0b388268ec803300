package org.salon.app

import android.net.Uri
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
        setContent {
            MaterialTheme {
                SalonNavigation(app.salon, app.myName, app.appScope)
            }
        }
    }
}

/**
 * Two screens: the friend list, and a call. Each call screen is its own back stack entry, so its
 * ViewModel (and with it the call) goes away when the screen is left.
 */
@Composable
fun SalonNavigation(salon: SalonService, myName: String, appScope: CoroutineScope) {
    val nav = rememberNavController()
    NavHost(navController = nav, startDestination = "friends") {
        composable("friends") {
            FriendsRoute(
                viewModel = viewModel { FriendsViewModel(salon) },
                onDropIn = { friend -> nav.navigate("call/${Uri.encode(friend.roomLink)}/${Uri.encode(friend.name)}") },
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
