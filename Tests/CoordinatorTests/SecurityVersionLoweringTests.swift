import Manifest
import Testing

@testable import Coordinator

/// A full update that lowers a package's effective SecurityVersion is applied (as MarbleRun applies it) and named in
/// a warning; these are the packages it names.
@Suite struct SecurityVersionLoweringTests {
    static func package(securityVersion: UInt64?, uniqueID: String = "") -> Package {
        var package = Package()
        package.signerID = String(repeating: "5a", count: 32)
        package.securityVersion = securityVersion
        package.uniqueID = uniqueID
        return package
    }

    @Test func namesEveryPackageWhoseMinimumGoesDown() {
        let effective = [
            "raised": Self.package(securityVersion: 5), "kept": Self.package(securityVersion: 3),
            "unset": Self.package(securityVersion: 2), "pinned": Self.package(securityVersion: 4), "removed": Self.package(securityVersion: 1),
            "unversioned": Self.package(securityVersion: nil),
        ]
        let updated = [
            "raised": Self.package(securityVersion: 3), "kept": Self.package(securityVersion: 4),
            "unset": Self.package(securityVersion: nil), "pinned": Self.package(securityVersion: nil, uniqueID: String(repeating: "ab", count: 32)),
            "unversioned": Self.package(securityVersion: 1),
        ]
        let lowered = Coordinator.loweredSecurityVersions(effective: effective, updated: updated)
        #expect(lowered.map(\.package) == ["raised", "unset"])
        #expect(lowered.map(\.before) == [5, 2])
        #expect(lowered.map(\.after) == [3, nil])
    }
}
