import org.jetbrains.kotlin.gradle.dsl.JvmTarget

// A minimal Compose app over the salon-core wrapper: a friend list that shows whose room is open,
// and a call screen. It sees only org.salon.core (SalonService, Call and our own types), never
// the generated bindings.
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "org.salon.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.salon.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        // The server whose invite links open this app (App Links): `-PsalonHost=salon.example.org`
        // or `salonHost=…` in gradle.properties. Its salon-server names this app with
        // `--android-app org.salon.app=<signing certificate SHA-256>`.
        manifestPlaceholders["salonHost"] =
            providers.gradleProperty("salonHost").getOrElse("salon.example.org")
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(project(":salon-core"))
    implementation(libs.kotlinx.coroutines.android)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)
    implementation(libs.activity.compose)
    implementation(libs.lifecycle.viewmodel.compose)
    implementation(libs.lifecycle.runtime.compose)
    implementation(libs.navigation.compose)
    implementation(libs.zxing.core)

    // ViewModel tests run on the JVM against FakeSalonService; tests of the Android parts
    // (intents, services, permissions) run on Robolectric. scripts/check-android.sh runs the same
    // tests without an SDK, from these lines and libs.versions.toml.
    testImplementation(libs.junit)
    testImplementation(libs.kotlinx.coroutines.test)
    testImplementation(libs.robolectric)
}
