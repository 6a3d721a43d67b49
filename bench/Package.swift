// swift-tools-version: 6.1
// Benchmarks of swiftland, as a package of their own (as swift-nio's Benchmarks/ is): it
// depends on the main package by path, so nothing measured here, and nothing it needs,
// enters the swiftland product. See README.md.
import PackageDescription

let package = Package(
    name: "swiftland-bench",
    dependencies: [
        // Named, because a path dependency is otherwise known by its folder's name.
        .package(name: "swiftland", path: ".."),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // ns per task of the user-mode run queue and policies, against a Heap baseline.
        .executableTarget(
            name: "UserSchedBench",
            dependencies: [
                .product(name: "UserSched", package: "swiftland"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]),
        // The reference of the RingBridge benchmark: the same round trip as a plain C loop.
        .target(name: "CRingLoop", linkerSettings: [.linkedLibrary("bpf")]),
        // RingBridge round trip against CRingLoop, in the same run.
        .executableTarget(
            name: "RingBridgeBench",
            dependencies: [
                "CRingLoop",
                .product(name: "RingBridge", package: "swiftland"),
                .product(name: "BPFLoader", package: "swiftland"),
                .product(name: "TestObjects", package: "swiftland"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
