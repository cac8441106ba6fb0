// swift-tools-version: 6.0
// Gradus: a CPU training library with a Swift core and a stable C ABI.
//
// Layers (each a target; lower layers never import higher ones):
//   _GradusShims (C) -> GradusRuntime -> GradusTensor -> GradusData
//                                                     -> GradusQuant -> GradusNN / GradusOptim -> GradusDiffusion
//   Gradus (umbrella, re-exports everything) -> GradusC (the @c exports of include/gradus.h) -> libgradus.so
//
// No unsafeFlags here: other packages depend on Gradus by version. Speed, soname and visibility
// flags for the shipped C library live in cmake/build-dist.sh.
import PackageDescription

let package = Package(
    name: "Gradus",
    products: [
        .library(name: "Gradus", targets: ["Gradus"]),
        .library(name: "gradus", type: .dynamic, targets: ["GradusC"]),
        .executable(name: "gradus-cli", targets: ["GradusCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNuma", pkgConfig: "numa", providers: [.apt(["libnuma-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "_GradusShims"),
        .target(name: "GradusRuntime", dependencies: ["CBLAS", "CNuma", "_GradusShims"], exclude: ["README.md"]),
        .target(name: "GradusTensor", dependencies: ["GradusRuntime", "CBLAS", "_GradusShims"], exclude: ["README.md"]),
        .target(name: "GradusData", dependencies: ["GradusTensor", "CZlib"], exclude: ["README.md"]),
        .target(name: "GradusQuant", dependencies: ["GradusTensor"], exclude: ["README.md"]),
        .target(name: "GradusNN", dependencies: ["GradusTensor", "GradusQuant"], exclude: ["README.md"]),
        .target(name: "GradusOptim", dependencies: ["GradusTensor", "GradusQuant", "_GradusShims"], exclude: ["README.md"]),
        .target(name: "GradusDiffusion", dependencies: ["GradusNN", "GradusOptim"], exclude: ["README.md"]),
        .target(name: "Gradus", dependencies: [
            "GradusRuntime", "GradusTensor", "GradusData", "GradusQuant", "GradusNN", "GradusOptim", "GradusDiffusion",
        ]),
        .target(name: "GradusC", dependencies: ["Gradus", "_GradusShims"], exclude: ["README.md"]),
        .executableTarget(name: "GradusCLI", dependencies: [
            "Gradus", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "_GradusTestSupport", dependencies: ["GradusRuntime", "GradusTensor"], path: "Tests/_GradusTestSupport"),
        .testTarget(name: "GradusRuntimeTests", dependencies: ["GradusRuntime", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusTensorTests", dependencies: ["GradusTensor", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusDataTests", dependencies: ["GradusData", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusNNTests", dependencies: ["GradusNN", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusOptimTests", dependencies: ["GradusOptim", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusQuantTests", dependencies: ["GradusQuant", "Gradus", "_GradusTestSupport"]),
        .testTarget(name: "GradusDiffusionTests", dependencies: ["GradusDiffusion", "Gradus", "_GradusTestSupport"]),
    ]
)
