// swift-tools-version:5.9
// Salon's client core for Apple platforms (and, for tests, Linux).
//
//   SalonCore       our Swift API (SalonService, Call, our own types): what apps import
//   SalonCoreFFI    the UniFFI-generated Swift bindings (generated: scripts/gen-bindings.sh)
//   salon_coreFFI   the generated C header and module map the bindings call through
//   SalonCoreRust   the Rust static library, as an XCFramework built by the README's steps (Apple)
//                   or, on Linux, the cdylib from `cargo build -p salon-core` (libsalon_core.so)
//
// On Linux (scripts/check-ios.sh) two more targets check the iOS app's logic: SalonApp compiles
// the app's Foundation-only files in place (Linux/SalonApp/App is a link to ../SalonApp/SalonApp),
// SalonAppTests runs the app's XCTests that need no SwiftUI (Linux/SalonAppTests is a link to
// ../SalonApp/SalonAppTests). On Apple platforms the package is exactly the core; the app and
// its tests are built by Xcode (../SalonApp/project.yml).
import PackageDescription

#if os(Linux)
import Foundation

// SALON_NATIVE_DIR, else <repo>/target/debug: where libsalon_core.so is.
let nativeDir = Context.environment["SALON_NATIVE_DIR"] ?? (Context.packageDirectory + "/../../target/debug")
let rustTargets: [Target] = []
let ffiDependencies: [Target.Dependency] = ["salon_coreFFI"]
let ffiLinkerSettings: [LinkerSetting] = [
    .linkedLibrary("salon_core"),
    .unsafeFlags(["-L", nativeDir, "-Xlinker", "-rpath", "-Xlinker", nativeDir]),
]

// The app's files that import nothing but Foundation and SalonCore (paths in
// ios/SalonApp/SalonApp). Anything with SwiftUI, UIKit, AVFoundation or CoreGraphics stays out;
// what they give the files below on Linux is in Linux/SalonApp/AppleOnly.swift.
let appFiles = [
    "Links.swift",
    "Friends/FriendsModel.swift",
    "Call/TileViews.swift",
    "Call/Encryption.swift",
    "Call/CallModel.swift",
    "Call/CallMediaModel.swift",
    "Call/NetworkChanges.swift",
    "Friends/AddFriendModel.swift",
    "Media/AudioChunks.swift",
    "Media/AudioRoutes.swift",
    "Media/NV12.swift",
    "Media/Permissions.swift",
    "Media/PlaybackQueue.swift",
    "Media/CaptureFormat.swift",
    "PreJoin/PreJoinModel.swift",
]
// The app's XCTests that need no SwiftUI (paths in ios/SalonApp/SalonAppTests).
let appTestFiles = [
    "LinksTests.swift",
    "TileViewsTests.swift",
    "EncryptionTests.swift",
    "CallModelTests.swift",
    "CallShareTests.swift",
    "CallSocialTests.swift",
    "CallMediaModelTests.swift",
    "NetworkChangesTests.swift",
    "AddFriendModelTests.swift",
    "AudioChunksTests.swift",
    "AudioRoutesTests.swift",
    "NV12Tests.swift",
    "PermissionsTests.swift",
    "PreJoinModelTests.swift",
    "PlaybackQueueTests.swift",
]
// Everything else in the app's folders is left out (SwiftPM would warn about each file otherwise).
func unlisted(in folder: String, _ listed: [String]) -> [String] {
    let root = URL(fileURLWithPath: Context.packageDirectory + "/" + folder).resolvingSymlinksInPath().path
    var files: [String] = []
    for case let file as String in FileManager.default.enumerator(atPath: root)?.allObjects ?? [] {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + file, isDirectory: &isFolder), !isFolder.boolValue,
           !listed.contains(file) {
            files.append(file)
        }
    }
    return files
}
let appTargets: [Target] = [
    // Named like the app, so that the tests' `@testable import SalonApp` works under Xcode and here.
    .target(
        name: "SalonApp",
        dependencies: ["SalonCore"],
        path: "Linux/SalonApp",
        exclude: unlisted(in: "Linux/SalonApp/App", appFiles).map { "App/" + $0 },
        sources: appFiles.map { "App/" + $0 } + ["AppleOnly.swift"]
    ),
    .testTarget(
        name: "SalonAppTests",
        dependencies: ["SalonApp", "SalonCore"],
        path: "Linux/SalonAppTests",
        exclude: unlisted(in: "Linux/SalonAppTests", appTestFiles),
        sources: appTestFiles
    ),
]
#else
let rustTargets: [Target] = [.binaryTarget(name: "SalonCoreRust", path: "SalonCoreRust.xcframework")]
let ffiDependencies: [Target.Dependency] = ["salon_coreFFI", "SalonCoreRust"]
let ffiLinkerSettings: [LinkerSetting] = [
    // openh264 is C++; the networking stack may reach for these on Apple platforms.
    .linkedLibrary("c++"),
    .linkedFramework("Security"),
    .linkedFramework("SystemConfiguration"),
]
let appTargets: [Target] = []
#endif

let package = Package(
    name: "SalonCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "SalonCore", targets: ["SalonCore"]),
    ],
    targets: rustTargets + [
        .systemLibrary(name: "salon_coreFFI", path: "Sources/salon_coreFFI"),
        .target(
            name: "SalonCoreFFI",
            dependencies: ffiDependencies,
            path: "Sources/SalonCoreFFI",
            linkerSettings: ffiLinkerSettings
        ),
        .target(name: "SalonCore", dependencies: ["SalonCoreFFI"], path: "Sources/SalonCore"),
        .testTarget(name: "SalonCoreTests", dependencies: ["SalonCore"], path: "Tests/SalonCoreTests"),
    ] + appTargets
)
