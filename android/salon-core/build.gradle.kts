import org.jetbrains.kotlin.gradle.dsl.JvmTarget

// salon-core for Android: the generated UniFFI bindings (org.salon.core.ffi, never edited by
// hand: scripts/gen-bindings.sh), our wrapper over them (org.salon.core), and the Rust library
// itself as src/main/jniLibs/<abi>/libsalon_core.so, built by the `buildRust` task below.
//
// Keep android.* out of this module's Kotlin: android/jvm-tests compiles the same sources on the
// plain JVM and tests them against the real core.
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.salon.core"
    compileSdk = 35

    defaultConfig {
        minSdk = 26
        // Keeps JNA and the generated bindings (reached by reflection) through R8 in apps.
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // The AAR flavour of JNA carries libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    // Flow and StateFlow are part of our API.
    api(libs.kotlinx.coroutines.core)
    implementation(libs.kotlinx.coroutines.android)
}

// --- The Rust library ---------------------------------------------------------------------------
//
// Needs: rustup targets aarch64-linux-android, armv7-linux-androideabi, x86_64-linux-android;
// `cargo install cargo-ndk`; an NDK (ANDROID_NDK_HOME, or the one the Android SDK has). Then:
//
//     ./gradlew :salon-core:buildRust          (or set salon.buildRust=true in gradle.properties)
//
// which runs, at the repository root,
//
//     cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 26 \
//         -o android/salon-core/src/main/jniLibs build --release -p salon-core --locked
//
// and leaves src/main/jniLibs/<abi>/libsalon_core.so, which the Android plugin packages.
val repoRoot: File = rootDir.parentFile
val rustAbis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val jniLibsDir: File = layout.projectDirectory.dir("src/main/jniLibs").asFile

val buildRust by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds libsalon_core.so for ${rustAbis.joinToString()} with cargo-ndk into src/main/jniLibs."
    workingDir = repoRoot
    commandLine(
        buildList {
            addAll(listOf("cargo", "ndk"))
            rustAbis.forEach { addAll(listOf("-t", it)) }
            addAll(listOf("--platform", "26", "-o", jniLibsDir.absolutePath))
            addAll(listOf("build", "--release", "-p", "salon-core", "--locked"))
        },
    )
}

if (providers.gradleProperty("salon.buildRust").map { it.toBoolean() }.getOrElse(false)) {
    tasks.named("preBuild") { dependsOn(buildRust) }
}
