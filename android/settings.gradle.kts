pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "salon-android"

// salon-core: the Rust core's generated Kotlin bindings, our wrapper over them, and the .so files.
// app: a minimal Compose app on top of the wrapper.
include(":salon-core", ":app")
