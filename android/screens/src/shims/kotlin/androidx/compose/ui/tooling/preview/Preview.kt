// Shim: Compose Multiplatform 1.8 keeps its desktop @Preview elsewhere; the app's screens import Android's.
package androidx.compose.ui.tooling.preview

annotation class Preview
