import Foundation
import StrictJSON
import Testing

@testable import Manifest

@Suite struct UpdateTests {
    func current() throws -> Manifest { try ManifestDocument.parse(Array(MarbleRunSamples.documentationManifest.utf8)) }

    func update(_ json: String) throws -> UpdateValidation {
        try current().validateUpdate(try ManifestDocument.parse(Array(json.utf8)))
    }

    @Test func securityVersionMayRise() throws {
        let result = try update(#"{"Packages": {"frontend": {"SecurityVersion": 5}}}"#)
        #expect(result.kind == .packageUpdate(securityVersions: ["frontend": 5]))
        #expect(result.report.errors == [])
        #expect(result.report.warnings == [])
        #expect(result.changes == nil)
    }

    @Test func securityVersionMayNotFall() throws {
        let result = try update(#"{"Packages": {"frontend": {"SecurityVersion": 2}}}"#)
        #expect(
            result.report.errors.map { "\($0.path): \($0.message)" } == [
                "Packages.frontend.SecurityVersion: SecurityVersion 2 is lower than the current 3; a package update may only raise it"
            ])
        #expect(result.kind == .packageUpdate(securityVersions: [:]))
    }

    @Test func equalSecurityVersionIsAWarning() throws {
        let result = try update(#"{"Packages": {"frontend": {"SecurityVersion": 3}}}"#)
        #expect(result.report.errors == [])
        #expect(result.report.warningPaths == ["Packages.frontend.SecurityVersion"])
    }

    @Test func onlySecurityVersionMayBeChanged() throws {
        let result = try update(
            #"{"Packages": {"frontend": {"SecurityVersion": 4, "Debug": true, "SignerID": "ab", "ProductID": 1, "UniqueID": "cd", "AcceptedTCBStatuses": ["UpToDate"]}}}"#
        )
        #expect(
            result.report.errors.map { "\($0.path): \($0.message)" } == [
                "Packages.frontend.Debug: Debug cannot be changed by a package update",
                "Packages.frontend.ProductID: ProductID cannot be changed by a package update",
                "Packages.frontend.SignerID: SignerID cannot be changed by a package update",
                "Packages.frontend.UniqueID: UniqueID cannot be changed by a package update",
            ])
        #expect(result.report.warningPaths == ["Packages.frontend.AcceptedTCBStatuses"])
    }

    @Test func packagesMustExistAndBeNamedAndHaveAVersion() throws {
        #expect(
            try update(#"{"Packages": {"middle": {"SecurityVersion": 4}}}"#).report.errors.map(\.message) == [
                "the current manifest has no package \"middle\""
            ])
        #expect(try update(#"{"Packages": {"frontend": {}}}"#).report.errors.map(\.message) == ["the package update sets no SecurityVersion"])
        #expect(try update(#"{"Packages": {}}"#).report.errors.map(\.message) == ["the update names no packages"])
        #expect(
            try update(#"{"Packages": {"frontend": {"SecurityVersion": "4"}}}"#).report.errors.map(\.message) == [
                "expected a non-negative integer, found a string", "the package update sets no SecurityVersion",
            ])
    }

    @Test func aPackageNobodyMayUpdateCannotBeUpdated() throws {
        let current = try ManifestDocument.parse(Array(baseManifestJSON.utf8))
        let result = current.validateUpdate(try ManifestDocument.parse(Array(#"{"Packages": {"backend": {"SecurityVersion": 1}}}"#.utf8)))
        #expect(result.report.errors.map(\.message).contains("no user of the current manifest may update package \"backend\""))
    }

    @Test func configIsIgnoredInAPackageUpdate() throws {
        let result = try update(#"{"Packages": {"frontend": {"SecurityVersion": 4}}, "Config": {"SealMode": "Disabled"}}"#)
        #expect(result.report.errors == [])
        #expect(result.report.warnings.map(\.message) == ["a package update ignores Config"])
    }

    @Test func fullUpdateIsValidatedAndItsEffectsListed() throws {
        var candidate = try parse(MarbleRunSamples.documentationManifest)
        candidate = candidate.setting(["Secrets", "rsaCert", "ValidFor"], to: .number("30"))
        candidate = candidate.setting(["Secrets", "secretKeyUnset"], to: nil)
        candidate = candidate.setting(["Roles", "secretManager", "ResourceNames"], to: .array([.string("genericSecret")]))
        candidate = candidate.setting(
            ["Secrets", "newKey"],
            to: .object([JSONMember(key: "Type", value: .string("symmetric-key")), JSONMember(key: "Size", value: .number("256"))]))
        candidate = candidate.setting(["Packages", "frontend", "SecurityVersion"], to: .number("1"))
        candidate = candidate.setting(["RecoveryKeys"], to: nil)
        let result = try current().validateUpdate(try ManifestDocument.parse(GoJSONEncoding.encode(candidate)))
        #expect(result.kind == .fullManifest)
        #expect(result.report.errors == [])
        #expect(
            result.report.warnings.map { "\($0.path): \($0.message)" } == [
                "Packages.frontend.Debug: Debug is true: debug enclaves can be inspected by the host, so nothing in them is confidential",
                "Packages.frontend.SecurityVersion: SecurityVersion goes down from 3 to 1, accepting older enclave versions again",
            ])
        let changes = try #require(result.changes)
        #expect(changes.packages.changed == ["frontend"])
        #expect(changes.removedSecrets == ["secretKeyUnset"])
        #expect(changes.regeneratedSecrets == ["frontendCert", "newKey", "rsaCert"])
        #expect(changes.keptSecrets == ["genericSecret", "secretAESKey"])
        #expect(changes.recoveryKeysChanged)
        #expect(!changes.rotatesRootSecret)
    }

    @Test func rotatingTheRootSecretRegeneratesSymmetricKeys() throws {
        let candidate = try parse(MarbleRunSamples.documentationManifest).setting(["Config", "RotateRootSecret"], to: .bool(true))
        let changes = try #require(try current().validateUpdate(try ManifestDocument.parse(GoJSONEncoding.encode(candidate))).changes)
        #expect(changes.regeneratedSecrets == ["frontendCert", "rsaCert", "secretAESKey"])
        #expect(changes.keptSecrets == ["genericSecret", "secretKeyUnset"])
        #expect(!changes.recoveryKeysChanged)
    }

    @Test func fullUpdateReportsTheCandidatesOwnFaults() throws {
        let candidate = try parse(MarbleRunSamples.documentationManifest).setting(["Marbles", "frontend", "Package"], to: .string("gone"))
        let result = try current().validateUpdate(try ManifestDocument.parse(GoJSONEncoding.encode(candidate)))
        #expect(result.report.errorPaths == ["Marbles.frontend.Package"])
    }

    @Test func anImmutableManifestCannotBeReplaced() throws {
        let current = try ManifestDocument.parse(Array(baseManifestJSON.utf8))
        let result = current.validateUpdate(current)
        #expect(result.report.errors.map(\.message) == ["the current manifest gives no user the UpdateManifest action, so it cannot be replaced"])
        #expect(result.report.warnings.map(\.message) == ["the update is identical to the current manifest"])
    }

    @Test func recoveryThresholdZeroMeansAllKeys() throws {
        var old = ManifestContent()
        old.recoveryKeys = ["a": "1", "b": "2"]
        var new = old
        new.config.recoveryThreshold = 2
        #expect(!Manifest.recoveryKeysChanged(from: old, to: new))
        new.config.recoveryThreshold = 0
        new.recoveryKeys["b"] = "3"
        #expect(Manifest.recoveryKeysChanged(from: old, to: new))
    }
}
