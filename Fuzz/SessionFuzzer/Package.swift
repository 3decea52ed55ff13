// swift-tools-version: 6.2
// Coverage-guided fuzzing (libFuzzer) of signed tokens through the whole gateway, in its own package so that
// neither `swift build` nor `swift test` of the gateway pays for it. Built and run by scripts/fuzz.sh:
// `swift build -c release --package-path Fuzz/SessionFuzzer --scratch-path .build-fuzz --sanitize fuzzer --sanitize address`.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the repository was cloned.
let gatewayPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "zitadel-gateway-session-fuzzer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // No `main`: libFuzzer's driver is the entry point and calls `LLVMFuzzerTestOneInput`.
        .executableTarget(
            name: "SessionFuzzer",
            dependencies: [
                .product(name: "GatewayApp", package: gatewayPackage),
                .product(name: "MockZitadel", package: gatewayPackage),
                .product(name: "SessionValidation", package: gatewayPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        )
    ]
)
