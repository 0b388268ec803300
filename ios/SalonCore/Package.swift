// swift-tools-version:5.9
// Salon's client core for Apple platforms.
//
//   SalonCore       our Swift API (SalonService, Call, our own types): what apps import
//   SalonCoreFFI    the UniFFI-generated Swift bindings (generated: scripts/gen-bindings.sh)
//   salon_coreFFI   the generated C header and module map the bindings call through
//   SalonCoreRust   the Rust static library, as an XCFramework built by the README's steps
import PackageDescription

let package = Package(
    name: "SalonCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "SalonCore", targets: ["SalonCore"]),
    ],
    targets: [
        .binaryTarget(name: "SalonCoreRust", path: "SalonCoreRust.xcframework"),
        .systemLibrary(name: "salon_coreFFI", path: "Sources/salon_coreFFI"),
        .target(
            name: "SalonCoreFFI",
            dependencies: ["salon_coreFFI", "SalonCoreRust"],
            path: "Sources/SalonCoreFFI",
            linkerSettings: [
                // openh264 is C++; the networking stack may reach for these on Apple platforms.
                .linkedLibrary("c++"),
                .linkedFramework("Security"),
                .linkedFramework("SystemConfiguration"),
            ]
        ),
        .target(name: "SalonCore", dependencies: ["SalonCoreFFI"], path: "Sources/SalonCore"),
        .testTarget(name: "SalonCoreTests", dependencies: ["SalonCore"], path: "Tests/SalonCoreTests"),
    ]
)
