// swift-tools-version: 6.2
// libFuzzer targets for Cloister's parsers of untrusted input. A separate package so that the sanitizer flags
// (`-sanitize=fuzzer,address`) never reach the main package's normal build; run them with `scripts/fuzz`.
import PackageDescription

let package = Package(
    name: "CloisterFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Cloister", path: "..")
    ],
    targets: [
        // Declares libFuzzer's `LLVMFuzzerRunDriver`; the symbol comes from the runtime `-sanitize=fuzzer` links in.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"]),
        .executableTarget(
            name: "fuzz-tar",
            dependencies: ["FuzzSupport", .product(name: "Tar", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-oci",
            dependencies: ["FuzzSupport", .product(name: "OCI", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-admission",
            dependencies: [
                "FuzzSupport", .product(name: "Injector", package: "Cloister"), .product(name: "StrictJSON", package: "Cloister"),
            ]
        ),
        .executableTarget(
            name: "fuzz-attestation",
            dependencies: ["FuzzSupport", .product(name: "Attestation", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-manifest",
            dependencies: ["FuzzSupport", .product(name: "Manifest", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-strictjson",
            dependencies: ["FuzzSupport", .product(name: "StrictJSON", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-activation",
            dependencies: ["FuzzSupport", .product(name: "CoordinatorAPI", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-gramine",
            dependencies: ["FuzzSupport", .product(name: "Gramine", package: "Cloister")]
        ),
        .executableTarget(
            name: "fuzz-protectedfiles",
            dependencies: ["FuzzSupport", .product(name: "ProtectedFiles", package: "Cloister")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
