// Shim: the desktop has no system back; CallRoute's BackHandler does nothing here.
package androidx.activity.compose

import androidx.compose.runtime.Composable

@Composable
@Suppress("UNUSED_PARAMETER")
fun BackHandler(enabled: Boolean = true, onBack: () -> Unit) = Unit
