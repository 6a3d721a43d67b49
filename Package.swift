// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swiftland",
    products: [
        .executable(name: "swiftland", targets: ["swiftland"]),
        // The policy API, for benchmarks (bench/) and for writing a policy of your own.
        .library(name: "UserSched", targets: ["UserSched"]),
        // Running swiftland with a policy of your own (Examples/ has one).
        .library(name: "SwiftlandUserMode", targets: ["SwiftlandUserMode"]),
        // For bench/: the ring bridge, the loader and the test programs it drives.
        .library(name: "RingBridge", targets: ["RingBridge"]),
        .library(name: "BPFLoader", targets: ["BPFLoader"]),
        .library(name: "TestObjects", targets: ["TestObjects"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // libbpf from Debian (1.4.6 from bookworm-backports; see scripts/setup.sh).
        .systemLibrary(
            name: "CLibbpf",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev"])]),
        // bpf/intf.h, the kernel/user ABI, as Swift sees it.
        .target(name: "SwiftlandABI"),
        // C helpers for the libbpf pieces Swift cannot import (macros, va_list, BTF walks).
        .target(name: "CBPFShim", dependencies: ["CLibbpf"]),
        .plugin(name: "EmbedPlugin", capability: .buildTool()),
        // The BPF object and scripts, embedded at build time.
        .target(name: "Embedded", plugins: ["EmbedPlugin"]),
        // Test-only BPF programs (bpf/test_rings.bpf.c), for tests and bench/.
        .target(name: "TestObjects", plugins: ["EmbedPlugin"]),
        // Child processes (posix_spawn): the one way swiftland and its tests run a program.
        .target(name: "ChildProcess", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        // Swift over libbpf's ring buffers, typed by the records of bpf/intf.h.
        .target(name: "RingBridge", dependencies: ["CLibbpf", .product(name: "SystemPackage", package: "swift-system")]),
        // sched-ext's stats protocol: schema, JSON (Foundation's coders), socket server and client, Prometheus text.
        .target(
            name: "ScxStats",
            dependencies: [
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Loading, configuring, attaching and reading the BPF scheduler.
        .target(
            name: "BPFLoader",
            dependencies: [
                "CLibbpf", "CBPFShim", "SwiftlandABI", "Embedded", "ScxStats",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // user mode's policies: pure Swift, no I/O. Queued-task records in, dispatch records out.
        .target(
            name: "UserSched",
            dependencies: ["SwiftlandABI"]),
        // Booting a sched_ext kernel under QEMU and running a command in it.
        .target(
            name: "VMRunner",
            dependencies: ["Embedded", "ChildProcess", .product(name: "SystemPackage", package: "swift-system")]),
        // compare's pure part: the experiment's data, statistics, workload output parsers, reports.
        .target(name: "CompareKit", dependencies: ["ChildProcess"]),
        // Running the scheduler: attach, watch, restart, serve the counters; user mode's
        // scheduling thread, generic over the policy; the command line's option groups.
        .target(
            name: "SwiftlandUserMode",
            dependencies: [
                "BPFLoader", "RingBridge", "UserSched", "SwiftlandABI", "CBPFShim", "CompareKit", "ScxStats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .executableTarget(
            name: "swiftland",
            dependencies: [
                "BPFLoader", "VMRunner", "UserSched", "CompareKit", "ScxStats", "SwiftlandUserMode", "ChildProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Hostile user-mode policies for the fault suite, built on SwiftlandUserMode as any
        // policy of your own would be: not part of the product.
        .executableTarget(
            name: "swiftland-hostile",
            dependencies: [
                "SwiftlandUserMode", "UserSched", "SwiftlandABI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/Hostile"),
        // What the test targets share: seeded random numbers, fixtures, running the built binary.
        .target(name: "TestSupport", dependencies: ["ChildProcess"], path: "Tests/TestSupport"),
        // One test target per module under test.
        .testTarget(name: "UserSchedTests", dependencies: ["UserSched", "SwiftlandABI", "TestSupport"]),
        .testTarget(name: "CompareKitTests", dependencies: ["CompareKit", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ScxStatsTests", dependencies: ["ScxStats", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "BPFLoaderTests",
            dependencies: [
                "BPFLoader", "CBPFShim", "Embedded", "ScxStats", "SwiftlandABI", "TestObjects", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(
            name: "RingBridgeTests",
            dependencies: ["RingBridge", "BPFLoader", "ChildProcess", "CLibbpf", "SwiftlandABI", "TestObjects", "UserSched"]),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess"]),
        .testTarget(name: "VMRunnerTests", dependencies: ["VMRunner", "ChildProcess"]),
        .testTarget(
            name: "SwiftlandUserModeTests",
            dependencies: [
                "SwiftlandUserMode", "BPFLoader", "CBPFShim", "CompareKit", "RingBridge", "ScxStats", "SwiftlandABI",
                "TestObjects", "UserSched",
            ]),
        // The swiftland executable: its commands and options, and the built binary.
        .testTarget(
            name: "SwiftlandTests",
            dependencies: [
                "swiftland", "BPFLoader", "ChildProcess", "CompareKit", "ScxStats", "SwiftlandABI", "SwiftlandUserMode",
                "TestSupport", "VMRunner", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
