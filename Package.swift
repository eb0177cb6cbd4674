// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "Cloister",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cloister", targets: ["cloister"]),
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "Manifest", targets: ["Manifest"]),
        .library(name: "CoordinatorAPI", targets: ["CoordinatorAPI"]),
        .library(name: "Tar", targets: ["Tar"]),
        .library(name: "OCI", targets: ["OCI"]),
        .library(name: "Gramine", targets: ["Gramine"]),
        .library(name: "Injector", targets: ["Injector"]),
        .library(name: "StrictJSON", targets: ["StrictJSON"]),
        .library(name: "ProtectedFiles", targets: ["ProtectedFiles"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Only the tests: it validates the OpenAPI document. Without the default trait, which the tests do not need.
        .package(url: "https://github.com/mattpolzin/OpenAPIKit.git", from: "6.4.0", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // Hummingbird's own HTTP part types, for the status fast path in its pipeline (resolved through Hummingbird).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        .target(name: "StrictJSON"),
        .testTarget(name: "StrictJSONTests", dependencies: ["StrictJSON"]),
        .target(name: "Hexadecimal"),
        .testTarget(name: "HexadecimalTests", dependencies: ["Hexadecimal"]),
        .target(
            name: "Attestation",
            dependencies: [
                "Hexadecimal", "StrictJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "CollateralSources",
            dependencies: [
                "Attestation", "Hexadecimal", "StrictJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "Manifest",
            dependencies: [
                "Hexadecimal", "StrictJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Gramine",
            dependencies: [
                "Hexadecimal",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        .testTarget(
            name: "GramineTests",
            dependencies: [
                "Gramine", "Hexadecimal", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        .target(
            name: "Tar",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .testTarget(name: "TarTests", dependencies: ["Tar", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "OCI",
            dependencies: [
                "Hexadecimal", "StrictJSON", "Tar",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "OCITests",
            dependencies: [
                "OCI", "StrictJSON", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Convert",
            dependencies: [
                "Gramine", "Hexadecimal", "OCI", "Tar",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "ProtectedFiles",
            dependencies: [
                "Hexadecimal",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ProtectedFilesTests",
            dependencies: ["ProtectedFiles", "Hexadecimal", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(name: "pf-benchmark", dependencies: ["ProtectedFiles"], path: "Benchmarks/ProtectedFilesBenchmark"),
        .testTarget(
            name: "ConvertTests",
            dependencies: [
                "Convert", "Gramine", "Injector", "OCI", "Tar", "TestSupport",
            ]
        ),
        .executableTarget(
            name: "cloister",
            dependencies: [
                "Attestation", "Gramine", "Convert", "OCI", "ProtectedFiles",
                "CollateralSources",
                "Manifest",
                "Coordinator", "CoordinatorPKI", "CoordinatorServer", "Platform", "SealedStore",
                "CoordinatorClient", "CoordinatorAPI", "StrictJSON", "Hexadecimal", "Injector", "InjectorServer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "Injector", dependencies: ["StrictJSON"]),
        .target(
            name: "InjectorServer",
            dependencies: [
                "Injector",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Platform",
            dependencies: [
                "Attestation", "Gramine",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "CoordinatorPKI",
            dependencies: [
                "Hexadecimal",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "SealedStore",
            dependencies: [
                "Hexadecimal",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(name: "CoordinatorAPI", dependencies: ["StrictJSON"]),
        .testTarget(
            name: "CoordinatorClientTests",
            dependencies: [
                "CoordinatorClient", "CoordinatorAPI", "Platform", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .target(
            name: "CoordinatorClient",
            dependencies: [
                "Attestation", "CoordinatorAPI", "Hexadecimal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "Attestation", "AuditLog", "CoordinatorAPI", "CoordinatorPKI", "Manifest", "Platform",
                "Recovery", "SealedStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "Attestation", "CollateralSources", "CoordinatorAPI", "CoordinatorPKI", "Hexadecimal", "Manifest",
                "Platform", "SealedStore", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .executableTarget(
            name: "sealed-store-crash-probe",
            dependencies: [
                "SealedStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "CoordinatorServer",
            dependencies: [
                "Coordinator", "CoordinatorAPI", "StrictJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Embedded in the binary rather than a resource bundle beside it: `cloister image build` copies one file.
            resources: [.embedInCode("openapi.json")]
        ),
        .testTarget(
            name: "CoordinatorServerTests",
            dependencies: [
                "CoordinatorServer", "Attestation", "Coordinator", "CoordinatorAPI", "CoordinatorPKI", "Platform", "SealedStore",
                "TestSupport",
                .product(name: "OpenAPIKit", package: "OpenAPIKit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["openapi_exchanges.py", "schemathesis.toml"]
        ),
        .target(
            name: "Recovery",
            dependencies: [
                "Hexadecimal", "SealedStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "attestation-benchmark", dependencies: ["Attestation"], path: "Benchmarks/AttestationBenchmark"),
        .executableTarget(
            name: "coordinator-benchmark",
            dependencies: [
                "Attestation", "CoordinatorAPI", "Launcher", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Benchmarks/CoordinatorBenchmark"
        ),
        .executableTarget(name: "convert-benchmark", dependencies: ["Tar"], path: "Benchmarks/ConvertBenchmark"),
        .executableTarget(
            name: "launcher-benchmark",
            dependencies: [
                "CoordinatorAPI", "Launcher", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/LauncherBenchmark"
        ),
        .target(
            name: "AuditLog",
            dependencies: [
                "CoordinatorPKI", "Hexadecimal", "SealedStore", "StrictJSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "CoordinatorAPI", "Hexadecimal", "Platform",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "RepositoryTests", dependencies: ["TestSupport"]),
        .testTarget(
            name: "KubernetesTests",
            dependencies: ["Injector", "TestSupport"],
            exclude: ["chart_check.py", "webhook_check.py", "values", "reviews"]
        ),
        .testTarget(
            name: "AttestationTests",
            dependencies: [
                "Attestation", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "CollateralSourcesTests",
            dependencies: [
                "CollateralSources", "Attestation", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ManifestTests",
            dependencies: [
                "Manifest", "StrictJSON", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(
            name: "AuditLogTests",
            dependencies: [
                "AuditLog", "CoordinatorPKI", "SealedStore", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "RecoveryTests",
            dependencies: [
                "Recovery", "SealedStore", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SealedStoreTests",
            // The crash probe is run, not imported: the dependency only makes `swift build --build-tests` build it.
            dependencies: [
                "SealedStore", "TestSupport", "sealed-store-crash-probe",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "CoordinatorPKITests",
            dependencies: [
                "CoordinatorPKI", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "Attestation", "TestSupport"]),
        .target(
            name: "Launcher",
            dependencies: [
                "Attestation", "CoordinatorAPI", "Hexadecimal", "Platform",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // libfuse3 (Debian's libfuse3-dev) serves encrypted mounts in simulation; only the launcher links it.
        .target(name: "CFuse", linkerSettings: [.linkedLibrary("fuse3")]),
        .target(name: "EncryptedVolume", dependencies: ["CFuse", "ProtectedFiles"]),
        .executableTarget(name: "cloister-premain", dependencies: ["Launcher", "EncryptedVolume"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "LauncherTests",
            dependencies: [
                "Launcher", "CoordinatorAPI", "Platform", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
