import AuditLog
import CoordinatorPKI
import Crypto
import Foundation
import Manifest
import SwiftASN1
import X509
import _CryptoExtras

extension Coordinator {
    // MARK: - Updates

    /// `POST /api/v2/update`: a package update (only `Packages` with `SecurityVersion`), applied at once for a user
    /// holding `UpdateSecurityVersion` on every named package; or a full manifest, which becomes the pending update
    /// for a user holding `UpdateManifest` and is applied when `UpdateThreshold` users (the submitter included) have
    /// acknowledged it.
    public func update(_ bytes: [UInt8], clientCertificateDER: [UInt8]?) throws(CoordinatorError) -> UpdateResult {
        let current = try requireAcceptingMarbles()
        let user = try users.authenticate(clientCertificateDER, now: configuration.clock(), pki: pki)
        let candidate: Manifest
        do {
            candidate = try ManifestDocument.parse(bytes, formats: .json)
        } catch {
            throw CoordinatorError(.badRequest, .malformedManifest, found: error.message, expected: "a JSON manifest", hint: error.hint)
        }
        let validation = current.validateUpdate(candidate)
        switch validation.kind {
        case .packageUpdate(let versions):
            try users.require(.updateSecurityVersion, on: versions.keys.sorted(), for: user)
            try requireNoErrors(validation.report)
            return try applyPackageUpdate(versions, user: user.name)
        case .fullManifest:
            try users.require(.updateManifest, on: [], for: user)
            try requireNoErrors(validation.report)
            _ = try sealingPolicy(for: candidate)
            try requireSamePersistence(candidate)
            if let pending = core.pendingUpdate {
                throw CoordinatorError(
                    .badRequest, .updateAlreadyPending,
                    found: "a pending update with fingerprint \(Array(SHA256.hash(data: pending.manifest)).hexadecimal)",
                    expected: "no pending update", hint: "acknowledge or cancel the pending update first (POST /api/v2/update-cancel)")
            }
            let pending = PersistedPendingUpdate(
                manifest: Data(bytes), acknowledgedBy: [user.name], requiredCount: current.requiredUpdateAcknowledgements,
                requiredUsers: current.manifestUpdaters)
            return try advance(
                pending, candidate: candidate, by: user.name, kind: .manifestUpdateInitiated,
                message: "Complete Manifest update initiated by user \(user.name)")
        }
    }

    /// `GET /api/v2/update-manifest`: the pending full update.
    public func pendingUpdate() throws(CoordinatorError) -> PendingUpdate {
        guard let pending = core.pendingUpdate else { throw Self.noPendingUpdate() }
        return PendingUpdate(
            manifest: Array(pending.manifest), message: "Pending update awaits acknowledgement",
            missingUsers: pending.missingUsers, missingAcknowledgments: pending.missingCount)
    }

    /// `POST /api/v2/update-manifest`: acknowledges the pending update with its byte-identical manifest; applies it
    /// when this was the last acknowledgement needed.
    public func acknowledgeUpdate(_ bytes: [UInt8], clientCertificateDER: [UInt8]?) throws(CoordinatorError) -> UpdateResult {
        _ = try requireAcceptingMarbles()
        let user = try users.authenticate(clientCertificateDER, now: configuration.clock(), pki: pki)
        guard let pending = core.pendingUpdate else { throw Self.noPendingUpdate() }
        guard pending.requiredUsers.contains(user.name) else {
            throw CoordinatorError(
                .permissionDenied, .notARequiredUser, found: "user \(user.name)",
                expected: "one of \(pending.requiredUsers.joined(separator: ", "))",
                hint: "only users holding UpdateManifest in the current manifest acknowledge updates")
        }
        guard Array(pending.manifest) == bytes else {
            throw CoordinatorError(
                .badRequest, .acknowledgementMismatch,
                found: "a manifest with SHA-256 \(Array(SHA256.hash(data: bytes)).hexadecimal)",
                expected: "the pending manifest, SHA-256 \(Array(SHA256.hash(data: pending.manifest)).hexadecimal)",
                hint: "fetch the pending manifest (GET /api/v2/update-manifest) and acknowledge exactly those bytes")
        }
        guard !pending.acknowledgedBy.contains(user.name) else {
            throw CoordinatorError(
                .badRequest, .alreadyAcknowledged, found: "user \(user.name) in the acknowledgements",
                expected: "a user who has not acknowledged yet", hint: "wait for \(pending.missingUsers.joined(separator: ", "))")
        }
        let candidate: Manifest
        do {
            candidate = try ManifestDocument.parse(bytes, formats: .json)
        } catch {
            throw CoordinatorError(.badRequest, .malformedManifest, found: error.message, expected: "a JSON manifest", hint: error.hint)
        }
        var acknowledged = pending
        acknowledged.acknowledgedBy.append(user.name)
        return try advance(
            acknowledged, candidate: candidate, by: user.name, kind: .acknowledgement,
            message: "Complete Manifest update acknowledged by user \(user.name)")
    }

    /// `POST /api/v2/update-cancel`: drops the pending update; any user holding `UpdateManifest` may.
    public func cancelUpdate(clientCertificateDER: [UInt8]?) throws(CoordinatorError) {
        _ = try requireAcceptingMarbles()
        let user = try users.authenticate(clientCertificateDER, now: configuration.clock(), pki: pki)
        try users.require(.updateManifest, on: [], for: user)
        guard let pending = core.pendingUpdate else { throw Self.noPendingUpdate() }
        var core = core
        core.pendingUpdate = nil
        try commit(
            core,
            events: [
                .manifestUpdate(
                    .manifestUpdateCancelled, user: user.name, fingerprint: Array(SHA256.hash(data: pending.manifest)).hexadecimal,
                    missingAcknowledgments: pending.missingCount, missingUsers: pending.missingUsers, time: configuration.clock())
            ])
        self.core = core
        logger.info("Pending manifest update cancelled", metadata: ["user": "\(user.name)"])
    }

    private func advance(
        _ pending: PersistedPendingUpdate, candidate: Manifest, by user: String, kind: AuditEvent.Kind, message: String
    ) throws(CoordinatorError) -> UpdateResult {
        let event = AuditEvent.manifestUpdate(
            kind, user: user, fingerprint: candidate.fingerprint, missingAcknowledgments: pending.missingCount,
            missingUsers: pending.missingUsers, time: configuration.clock())
        guard pending.missingCount == 0 else {
            var core = core
            core.pendingUpdate = pending
            try commit(core, events: [event])
            self.core = core
            logger.info("Manifest update pending", metadata: ["user": "\(user)", "missing": "\(pending.missingCount)"])
            return UpdateResult(
                message: message, missingAcknowledgments: pending.missingCount, missingUsers: pending.missingUsers,
                recoverySecrets: nil)
        }
        do {
            let recoverySecrets = try applyFullUpdate(candidate, precedingEvents: [event])
            return UpdateResult(
                message: "Update successfully applied", missingAcknowledgments: 0, missingUsers: [],
                recoverySecrets: recoverySecrets)
        } catch {
            var core = core
            core.pendingUpdate = nil
            _ = try? commit(
                core,
                events: [
                    event,
                    .manifestUpdate(
                        .manifestUpdateCancelled, user: nil, fingerprint: candidate.fingerprint, missingAcknowledgments: 0,
                        missingUsers: [], time: configuration.clock()),
                ])
            self.core = core
            throw error
        }
    }

    /// Applies a full update (MarbleRun `updateApply`): replaces the manifest, rotates the intermediate, keeps
    /// unchanged symmetric and user-defined secrets (unless `RotateRootSecret`), regenerates the rest, re-signs.
    private func applyFullUpdate(
        _ candidate: Manifest, precedingEvents: [AuditEvent]
    ) throws(CoordinatorError)
        -> [String: [UInt8]]?
    {
        guard let current = manifest else { throw Self.noManifestError(core.state) }
        guard let changes = current.validateUpdate(candidate).changes else {
            throw CoordinatorError(
                .badRequest, .invalidUpdate, found: "a package update", expected: "a full manifest",
                hint: "package updates are applied with POST /api/v2/update")
        }
        let lowered = Self.loweredSecurityVersions(effective: effectivePackages(), updated: candidate.content.packages)
        let now = configuration.clock()
        let newPKI = try rotatedIntermediate(now: now)
        var core = core
        if changes.rotatesRootSecret {
            core.previousRootSecret = core.rootSecret
            core.rootSecret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        }
        let kept = core.sharedSecrets.filter { changes.keptSecrets.contains($0.key) }
        let shared = try Self.generateSharedSecrets(candidate, keeping: kept, pki: newPKI, now: now)
        var previous: [String: SecretRecord] = [:]
        for (name, value) in core.sharedSecrets where candidate.content.secrets[name] != nil { previous[name] = value }
        core.previousSecrets = previous
        core.sharedSecrets = shared
        core.userSecrets = core.userSecrets.filter { changes.keptSecrets.contains($0.key) }
        core.packageSecurityVersions = [:]
        core.pendingUpdate = nil
        core.manifest = Data(candidate.bytes)
        do {
            core.manifestSignature = try newPKI.manifestSignature(for: candidate.bytes)
            core.pki = try newPKI.serialized()
        } catch {
            throw Self.cryptographyError(error, "signing the updated manifest")
        }
        let applied = AuditEvent.manifestUpdate(
            .manifestUpdated, user: nil, fingerprint: candidate.fingerprint, missingAcknowledgments: 0, missingUsers: [],
            time: now)
        let resealing = try sealingPolicy(for: candidate) != sealingPolicy
        let rotates = changes.recoveryKeysChanged || resealing
        let newRecoverySecrets = try commit(
            core, events: precedingEvents + [applied], rotatingDataKeyFor: rotates ? candidate : nil)
        let recoverySecrets = rotates ? newRecoverySecrets : nil
        self.core = core
        pki = newPKI
        manifest = candidate
        users = UserDirectory(content: candidate.content)
        generation += 1
        tlsVersion += 1
        logger.info("Manifest updated", metadata: ["fingerprint": "\(candidate.fingerprint)"])
        for change in lowered {
            // MarbleRun applies such an update silently; enclaves the raised version had shut out can activate again.
            logger.warning(
                "The manifest update lowers a package's SecurityVersion",
                metadata: [
                    "package": "\(change.package)", "before": "\(change.before)", "after": "\(change.after.map(String.init) ?? "none")",
                    "consequence": "enclaves of this package with a lower SecurityVersion than before can activate again",
                ])
        }
        return recoverySecrets
    }

    /// The PKI with a new intermediate certificate, as every update makes one; the state keeps the old PKI until the
    /// update commits.
    private func rotatedIntermediate(now: Date) throws(CoordinatorError) -> CoordinatorPKI {
        var rotated = pki
        do {
            try rotated.rotateIntermediate(now: now)
        } catch {
            throw Self.cryptographyError(error, "replacing the intermediate certificate")
        }
        return rotated
    }

    /// The packages whose minimum SecurityVersion a full update lowers: below the effective one (the manifest's, or
    /// one raised by a package update), or no longer set while the package is still matched by its signer. MarbleRun
    /// resets raised versions without a word.
    static func loweredSecurityVersions(
        effective: [String: Package], updated: [String: Package]
    )
        -> [(package: String, before: UInt64, after: UInt64?)]
    {
        effective.keys.sorted().compactMap { name in
            guard let before = effective[name]?.securityVersion, let package = updated[name], package.uniqueID.isEmpty else { return nil }
            guard let after = package.securityVersion else { return (name, before, nil) }
            return after < before ? (name, before, after) : nil
        }
    }

    /// Raises package SecurityVersions (MarbleRun `updateManifest` for package updates): a new intermediate, shared
    /// certificates regenerated, the stored manifest bytes and signature unchanged.
    private func applyPackageUpdate(_ versions: [String: UInt64], user: String) throws(CoordinatorError) -> UpdateResult {
        guard let current = manifest else { throw Self.noManifestError(core.state) }
        let effective = effectivePackages()
        for (name, version) in versions {
            if let minimum = effective[name]?.securityVersion, version < minimum {
                throw CoordinatorError(
                    .badRequest, .invalidUpdate, found: "SecurityVersion \(version) for package \(name)",
                    expected: "at least the current \(minimum)", hint: "a package update may only raise SecurityVersion")
            }
        }
        let now = configuration.clock()
        let newPKI = try rotatedIntermediate(now: now)
        var core = core
        let keptSymmetric = core.sharedSecrets.filter { $0.value.certificate.isEmpty }
        let shared = try Self.generateSharedSecrets(current, keeping: keptSymmetric, pki: newPKI, now: now)
        for (name, value) in core.sharedSecrets where !value.certificate.isEmpty { core.previousSecrets[name] = value }
        core.sharedSecrets = shared
        for (name, version) in versions { core.packageSecurityVersions[name] = version }
        do {
            core.pki = try newPKI.serialized()
        } catch {
            throw Self.cryptographyError(error, "storing the new intermediate")
        }
        let events = versions.keys.sorted().map {
            AuditEvent.securityVersionIncreased(user: user, package: $0, version: Int64(clamping: versions[$0]!), time: now)
        }
        try commit(core, events: events)
        self.core = core
        pki = newPKI
        generation += 1
        tlsVersion += 1
        logger.info("Package SecurityVersion raised", metadata: ["user": "\(user)", "packages": "\(versions)"])
        return UpdateResult(message: "SecurityVersion increased", missingAcknowledgments: 0, missingUsers: [], recoverySecrets: nil)
    }

    // MARK: - Secrets

    /// `GET /api/v2/secrets?s=...`: shared and user-defined secrets, for a user holding `ReadSecret` on all of them.
    public func readSecrets(_ names: [String], clientCertificateDER: [UInt8]?) throws(CoordinatorError) -> [String: SecretRecord] {
        let current = try requireAcceptingMarbles()
        let user = try users.authenticate(clientCertificateDER, now: configuration.clock(), pki: pki)
        guard !names.isEmpty else {
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: "no secret names", expected: "at least one name (?s=NAME)",
                hint: "name the secrets to read, e.g. /api/v2/secrets?s=apiKey&s=cert")
        }
        for name in names where current.content.secrets[name] == nil {
            throw Self.unknownSecret(name, current)
        }
        try users.require(.readSecret, on: names, for: user)
        var result: [String: SecretRecord] = [:]
        for name in names {
            guard let value = core.userSecrets[name] ?? core.sharedSecrets[name] else {
                throw CoordinatorError(
                    .notFound, .unknownSecret, found: "secret \(name) without a value",
                    expected: "a secret that was generated or uploaded",
                    hint: current.content.secrets[name]?.userDefined == true
                        ? "a user with WriteSecret must upload it first (POST /api/v2/secrets)"
                        : "per-marble secrets exist only inside marbles and cannot be read")
            }
            result[name] = value
        }
        return result
    }

    /// `POST /api/v2/secrets`: sets user-defined secrets for a user holding `WriteSecret` on all of them; each upload
    /// is checked against the secret's type and size and against how the manifest's templates use it.
    public func writeSecrets(_ uploads: [String: UserSecretUpload], clientCertificateDER: [UInt8]?) throws(CoordinatorError) {
        let current = try requireAcceptingMarbles()
        let user = try users.authenticate(clientCertificateDER, now: configuration.clock(), pki: pki)
        guard !uploads.isEmpty else {
            throw CoordinatorError(
                .badRequest, .malformedRequest, found: "no secrets", expected: "at least one secret",
                hint: "send {\"secrets\": {\"NAME\": {\"Key\": base64}}}")
        }
        for name in uploads.keys.sorted() where current.content.secrets[name] == nil {
            throw Self.unknownSecret(name, current)
        }
        try users.require(.writeSecret, on: uploads.keys.sorted(), for: user)
        var records: [String: SecretRecord] = [:]
        for name in uploads.keys.sorted() {
            let definition = current.content.secrets[name]!
            guard definition.userDefined else {
                throw CoordinatorError(
                    .badRequest, .invalidSecretValue, found: "secret \(name), generated by the Coordinator",
                    expected: "a secret with UserDefined true", hint: "only user-defined secrets can be uploaded")
            }
            records[name] = try Self.userSecretRecord(name, uploads[name]!, definition: definition, usage: current.usage(ofSecret: name))
        }
        var core = core
        for (name, record) in records { core.userSecrets[name] = record }
        let now = configuration.clock()
        try commit(core, events: records.keys.sorted().map { .secretSet(user: user.name, secret: $0, type: records[$0]!.type, time: now) })
        self.core = core
        generation += 1
        logger.info("User-defined secrets set", metadata: ["user": "\(user.name)", "secrets": "\(records.keys.sorted())"])
    }

    static func userSecretRecord(
        _ name: String, _ upload: UserSecretUpload, definition: SecretDefinition, usage: SecretUsage
    )
        throws(CoordinatorError) -> SecretRecord
    {
        func invalid(_ found: String, _ expected: String, _ hint: String) -> CoordinatorError {
            CoordinatorError(.badRequest, .invalidSecretValue, found: "secret \(name): \(found)", expected: expected, hint: hint)
        }
        var record = SecretRecord(
            type: definition.typeName, size: definition.size, shared: definition.shared, userDefined: true,
            validFor: definition.validFor, certificate: [], privateKey: [], publicKey: [])
        switch definition.type {
        case .symmetricKey, .plain:
            guard !upload.key.isEmpty else {
                throw invalid("no Key", "the value in Key (base64)", "send {\"\(name)\": {\"Key\": base64}}")
            }
            if definition.type == .symmetricKey, definition.size > 0, UInt64(upload.key.count) * 8 != definition.size {
                throw invalid(
                    "a \(upload.key.count * 8)-bit key", "a \(definition.size)-bit key as the manifest's Size says",
                    "upload exactly \(definition.size / 8) bytes")
            }
            if usage.mustBeFreeOfNUL, upload.key.contains(0) {
                throw invalid(
                    "a value with NUL bytes", "no NUL bytes: a template writes it with `string` into an environment variable",
                    "remove the NUL bytes, or change the template to base64 or hex")
            }
            record.privateKey = upload.key
            record.publicKey = upload.key
        case .certRSA, .certECDSA, .certED25519:
            guard !upload.certificate.isEmpty else {
                throw invalid(
                    "no Cert", "a DER certificate in Cert (base64)", "send {\"\(name)\": {\"Cert\": base64 DER, \"Private\": base64 PKCS#8}}")
            }
            let certificate: Certificate
            do {
                certificate = try Certificate(derEncoded: upload.certificate)
            } catch {
                throw invalid("Cert is not a DER certificate (\(error))", "a DER X.509 certificate", "convert it with `openssl x509 -outform der`")
            }
            if usage.parts.contains(.privateKey), upload.privateKey.isEmpty {
                throw invalid("no Private key", "a PKCS#8 private key: the manifest's templates use .Private", "upload the key with the certificate")
            }
            record.certificate = upload.certificate
            record.privateKey = upload.privateKey
            do {
                var serializer = DER.Serializer()
                try serializer.serialize(certificate.publicKey)
                record.publicKey = serializer.serializedBytes
            } catch {
                throw invalid(
                    "a certificate whose public key cannot be encoded (\(error))", "a standard public key", "use an RSA, ECDSA or Ed25519 key")
            }
        case nil:
            throw invalid("unknown Type \(definition.typeName)", "a secret type of the manifest", "fix the manifest")
        }
        return record
    }

    // MARK: - Helpers

    func requireAcceptingMarbles() throws(CoordinatorError) -> Manifest {
        guard core.state == .acceptingMarbles, let manifest else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "state \(core.state)", expected: "accepting marbles",
                hint: core.state == .recovery ? "recover the Coordinator first" : "set a manifest first")
        }
        return manifest
    }

    private func requireNoErrors(_ report: ValidationReport) throws(CoordinatorError) {
        guard report.isValid else {
            throw CoordinatorError(
                .badRequest, .invalidUpdate,
                found: "\(report.errors.count) error(s): " + report.errors.map(\.description).joined(separator: "; "),
                expected: "an update without errors", hint: "fix the errors listed; `cloister manifest check` shows them")
        }
    }

    static func noPendingUpdate() -> CoordinatorError {
        CoordinatorError(
            .notFound, .noPendingUpdate, found: "no pending update", expected: "a full manifest update awaiting acknowledgements",
            hint: "submit one with POST /api/v2/update")
    }

    static func noManifestError(_ state: CoordinatorState) -> CoordinatorError {
        CoordinatorError(.wrongState, .noManifest, found: "state \(state) without a manifest", expected: "a manifest", hint: "set a manifest first")
    }

    static func unknownSecret(_ name: String, _ manifest: Manifest) -> CoordinatorError {
        CoordinatorError(
            .badRequest, .unknownSecret, found: "secret '\(name)'",
            expected: "one of \(manifest.content.secrets.keys.sorted().joined(separator: ", "))",
            hint: "secret names are case-sensitive")
    }
}
