package org.salon.app

import android.app.Application
import android.os.Build
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import org.salon.core.RustSalonService
import org.salon.core.SalonService
import java.io.File

/** Owns the app's one [SalonService] and a scope for work that must outlive a screen. */
class SalonApplication : Application() {
    /** For work that outlives a screen, such as leaving a call after its screen is gone. */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** Opens its database on first use, off the main thread. */
    val salon: SalonService by lazy { RustSalonService(File(filesDir, "salon").path) }

    /** The name others see. Until there is a settings screen, the device's model. */
    val myName: String get() = Build.MODEL ?: "Android"
}
