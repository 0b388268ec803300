package org.salon.app

import android.app.PictureInPictureParams
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.content.res.Configuration
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.util.Rational
import androidx.activity.ComponentActivity
import androidx.annotation.RequiresApi
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.rememberNavController
import androidx.navigation.navArgument
import org.salon.app.addfriend.AddFriendEvent
import org.salon.app.addfriend.AddFriendRoute
import org.salon.app.addfriend.QrScan
import org.salon.app.media.CameraView
import org.salon.app.addfriend.AddFriendViewModel
import org.salon.app.permissions.MediaGrant
import org.salon.app.prejoin.Joined
import org.salon.app.prejoin.PreJoinRoute
import org.salon.app.prejoin.PreJoinViewModel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import org.salon.app.call.CallRoute
import org.salon.app.call.CallViewModel
import org.salon.app.friends.FriendsRoute
import org.salon.app.friends.FriendsViewModel
import org.salon.app.media.AndroidCallMedia
import org.salon.app.net.AndroidNetworkWatch
import org.salon.app.permissions.PermissionBroker
import org.salon.app.service.OngoingCall
import org.salon.core.SalonService

class MainActivity : ComponentActivity() {
    /** The invite link or friend card the app was opened with, until the screens have acted on it. */
    private val opened = MutableStateFlow<OpenedLink?>(null)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // A link opens the app once, not again when the activity is recreated (rotation).
        if (savedInstanceState == null) opened.value = openedLinkOf(intent)
        // Camera and microphone are asked for in context, when joining a call (see CallViewModel).
        PermissionBroker.of(this).attach(this)
        val app = application as SalonApplication
        // "Door opened" and the ongoing call come as notifications (Android 13+ asks the user
        // first). Through the broker, in turn with a call's camera and microphone dialog: a second
        // request while one is on screen would be answered "no" at once.
        if (savedInstanceState == null) lifecycleScope.launch { PermissionBroker.of(this@MainActivity).requestNotifications() }
        // During a call, going home turns the app into a picture-in-picture window by itself
        // (Android 12+; before, onUserLeaveHint does it).
        if (Build.VERSION.SDK_INT >= 31) {
            lifecycleScope.launch { OngoingCall.active.collect { call -> updatePictureInPicture(call != null) } }
        }
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
        openedLinkOf(intent)?.let { opened.value = it }
    }

    override fun onDestroy() {
        PermissionBroker.of(this).detach(this)
        super.onDestroy()
    }

    /** Leaving the app (home, another app) during a call: the call goes on in a small window. */
    override fun onUserLeaveHint() {
        super.onUserLeaveHint()
        // Android 12+ enters by itself (setAutoEnterEnabled), with the smoother animation.
        if (OngoingCall.active.value == null || Build.VERSION.SDK_INT >= 31) return
        if (!packageManager.hasSystemFeature(PackageManager.FEATURE_PICTURE_IN_PICTURE)) return
        try {
            enterPictureInPictureMode(PictureInPictureParams.Builder().setAspectRatio(PIP_ASPECT).build())
        } catch (e: IllegalStateException) {
            // PiP turned off for this app by the user.
        }
    }

    @RequiresApi(31)
    private fun updatePictureInPicture(inCall: Boolean) {
        if (!packageManager.hasSystemFeature(PackageManager.FEATURE_PICTURE_IN_PICTURE)) return
        try {
            setPictureInPictureParams(
                PictureInPictureParams.Builder()
                    .setAspectRatio(PIP_ASPECT)
                    .setAutoEnterEnabled(inCall)
                    // Video, not text: no need to re-lay out while the window is resized.
                    .setSeamlessResizeEnabled(false)
                    .build(),
            )
        } catch (e: IllegalStateException) {
            // PiP turned off for this app by the user.
        }
    }

    override fun onPictureInPictureModeChanged(isInPictureInPictureMode: Boolean, newConfig: Configuration) {
        super.onPictureInPictureModeChanged(isInPictureInPictureMode, newConfig)
        OngoingCall.setPictureInPicture(isInPictureInPictureMode)
    }

    private companion object {
        /** Portrait, like a phone's camera picture; within PiP's limits (1:2.39 to 2.39:1). */
        val PIP_ASPECT = Rational(3, 4)
    }
}

/**
 * The link an intent opens the app with ([openedLink]): only `ACTION_VIEW` intents carry one;
 * a launch from the home screen has none.
 */
fun openedLinkOf(intent: Intent?): OpenedLink? =
    if (intent?.action == Intent.ACTION_VIEW) openedLink(intent.dataString) else null

/**
 * The screens: the rooms (mine and my friends'), adding a friend, the pre-join screen and a call.
 * Each pre-join and call screen is its own back stack entry, so its ViewModel (and with it the
 * call) goes away when the screen is left. The pre-join screen joins (its loading state and
 * errors stay there) and hands the call to the call screen, which replaces it on the back stack.
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
    val context = LocalContext.current
    val prefs = remember { context.getSharedPreferences("salon", Context.MODE_PRIVATE) }
    val media = remember { AndroidCallMedia(context.applicationContext) }
    // The call the pre-join screen joined, until the call screen takes it.
    val handOver = remember { HandOver(appScope) }
    /** The name I last joined with, else the device's. */
    val savedName = { prefs.getString(NAME, null) ?: myName }
    val preJoin = { roomLink: String, title: String -> nav.navigate(roomRoute("prejoin", roomLink, title)) }
    // An invite link goes to its room's pre-join screen from wherever the app is; a friend card
    // to the add-a-friend screen, which adds the friend at once.
    LaunchedEffect(link) {
        when (val l = link) {
            is OpenedLink.Room -> {
                onOpenedHandled()
                preJoin(l.link, l.host)
            }
            is OpenedLink.Friend -> {
                onOpenedHandled()
                nav.navigate("addfriend?card=${Uri.encode(l.card)}")
            }
            null -> Unit
        }
    }
    NavHost(navController = nav, startDestination = "friends") {
        composable("friends") {
            FriendsRoute(
                viewModel = viewModel { FriendsViewModel(salon) },
                onDropIn = { friend -> preJoin(friend.roomLink, friend.name) },
                onEnterMyRoom = { room -> preJoin(room.link, room.name) },
                onDoorOpened = onDoorOpened,
                onAddFriend = { nav.navigate("addfriend") },
                onShare = { text -> context.startActivity(shareIntent(text)) },
            )
        }
        composable("addfriend?card={card}", arguments = listOf(navArgument("card") { nullable = true })) { entry ->
            val card = entry.arguments?.getString("card")
            val addFriend = viewModel { AddFriendViewModel(salon, savedName(), card) }
            AddFriendRoute(
                viewModel = addFriend,
                onShare = { text -> context.startActivity(shareIntent(text)) },
                onBack = { nav.popBackStack() },
                scanner = { QrScan(media::requestPermissions) { text -> addFriend.onEvent(AddFriendEvent.Scanned(text)) } },
            )
        }
        composable("prejoin/{link}/{title}") { entry ->
            val roomLink = entry.arguments?.getString("link").orEmpty()
            val title = entry.arguments?.getString("title").orEmpty()
            PreJoinRoute(
                viewModel =
                    viewModel {
                        PreJoinViewModel(
                            salon,
                            roomLink,
                            title,
                            savedName = savedName(),
                            rememberName = { prefs.edit().putString(NAME, it).apply() },
                            // Asked in context: when joining with the camera or microphone on.
                            requestPermissions = media::requestPermissions,
                        )
                    },
                onJoined = { joined ->
                    handOver.put(joined)
                    nav.navigate(roomRoute("call", roomLink, title)) {
                        popUpTo("prejoin/{link}/{title}") { inclusive = true }
                    }
                },
                onBack = { nav.popBackStack() },
                onPermissionAction = media::openAppSettings,
                // The front camera, mirrored, once the camera may be used (asked for on Join).
                cameraPreview = {
                    CameraView(front = true) {
                        Text("Your camera shows here once Salon may use it", color = Color.White, modifier = Modifier.padding(16.dp))
                    }
                },
            )
        }
        composable("call/{link}/{title}") { entry ->
            val roomLink = entry.arguments?.getString("link").orEmpty()
            val title = entry.arguments?.getString("title").orEmpty()
            CallRoute(
                viewModel =
                    viewModel {
                        val joined = handOver.take()
                        val name = joined?.options?.name ?: savedName()
                        val grant = joined?.let { MediaGrant(camera = it.options.cameraOn, microphone = it.options.microphoneOn, note = it.note) }
                        CallViewModel(
                            salon, roomLink, name, appScope, media,
                            network = AndroidNetworkWatch(context.applicationContext),
                            wantCamera = true, wantMicrophone = true, title = title,
                            preJoined = joined?.let { it.call to grant!! },
                        )
                    },
                title = title,
                onClose = { nav.popBackStack() },
            )
        }
    }
}

/** A room's screen (`prejoin`, `call`) in the navigation graph: `<screen>/{link}/{title}`. */
private fun roomRoute(screen: String, link: String, title: String): String = "$screen/${Uri.encode(link)}/${Uri.encode(title)}"

/** The name others see, as the pre-join screen last joined with. */
private const val NAME = "name"

/** The share sheet for an invite link or a friend card. */
private fun shareIntent(text: String): Intent =
    Intent.createChooser(Intent(Intent.ACTION_SEND).setType("text/plain").putExtra(Intent.EXTRA_TEXT, text), null)
        .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK)

/**
 * Carries a joined call from the pre-join screen to the call screen. A call nobody takes (the
 * app went away in between) is left, so it does not stay in the room as a ghost.
 */
private class HandOver(private val scope: CoroutineScope) {
    private var pending: Joined? = null

    fun put(joined: Joined) {
        pending?.let { stale -> scope.launch { stale.call.leave() } }
        pending = joined
    }

    fun take(): Joined? = pending.also { pending = null }
}
