// swift-tools-version: 6.1
// A user-mode policy written outside the swiftland package, as a client of its
// SwiftlandUserMode library: the whole scheduler is this package's one source file.
import PackageDescription

let package = Package(
    name: "RoundRobin",
    dependencies: [
        .package(name: "swiftland", path: "../.."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "swiftland-roundrobin",
            dependencies: [
                .product(name: "SwiftlandUserMode", package: "swiftland"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
