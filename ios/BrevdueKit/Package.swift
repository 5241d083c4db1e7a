// swift-tools-version:5.10
// BrevdueKit: the Rust engine's uniffi bindings for Swift plus the view models the iOS app
// draws. Builds and tests on Linux (`ios/test.sh`) and on Apple platforms.
//
// The C module `brevdue_coreFFI` and the Swift file in `BrevdueCore` are generated from the
// built library (never committed):
//   - Linux: `ios/test.sh` writes them and links `libbrevdue_core.so` from the workspace's
//     `target/debug` (or `BREVDUE_LIB_DIR`).
//   - Apple: `ios/build-xcframework.sh` writes `Frameworks/brevdue_coreFFI.xcframework`
//     (static library, header, modulemap) and the Swift file.
import Foundation
import PackageDescription

let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

#if os(Linux)
let libDir = ProcessInfo.processInfo.environment["BREVDUE_LIB_DIR"]
    ?? URL(fileURLWithPath: packageDir + "/../../target/debug").standardizedFileURL.path
let ffiTarget: Target = .systemLibrary(name: "brevdue_coreFFI", path: "Sources/brevdue_coreFFI")
let coreLinker: [LinkerSetting] = [
    .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
    .linkedLibrary("brevdue_core"),
]
#else
let ffiTarget: Target = .binaryTarget(
    name: "brevdue_coreFFI", path: "Frameworks/brevdue_coreFFI.xcframework")
let coreLinker: [LinkerSetting] = [
    .linkedFramework("SystemConfiguration"),
    .linkedFramework("Security"),
]
#endif

let package = Package(
    name: "BrevdueKit",
    defaultLocalization: "en",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "BrevdueKit", targets: ["BrevdueKit"]),
    ],
    targets: [
        ffiTarget,
        // The generated bindings, in their own module so their names stay as uniffi made them.
        .target(
            name: "BrevdueCore",
            dependencies: ["brevdue_coreFFI"],
            path: "Sources/BrevdueCore",
            exclude: ["README.md"],
            linkerSettings: coreLinker
        ),
        // The view models (async/await, no UI framework), and the advice words the core
        // writes into Resources/{en,nb}.lproj/Advice.strings (`Bundle.module`).
        .target(
            name: "BrevdueKit",
            dependencies: ["BrevdueCore"],
            path: "Sources/BrevdueKit",
            resources: [.process("Resources")]
        ),
        .testTarget(
            name: "BrevdueKitTests",
            dependencies: ["BrevdueKit"],
            path: "Tests/BrevdueKitTests"
        ),
    ]
)
