import Attestation
import AuditLog
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Manifest
import SwiftASN1
import X509

/// An activation waiting for its batch commit.
struct PendingActivationRecord {
    let marbleType: String
    let event: AuditEvent
    let continuation: CheckedContinuation<Result<Void, CoordinatorError>, Never>
}

/// What an activation needs from the Coordinator's state, taken at one instant so that the expensive work (quote
/// verification, key generation, certificate issuing, rendering) runs outside the actor.
struct ActivationSnapshot: Sendable {
    let generation: Int
    let manifest: Manifest
    let packages: [String: Package]
    let pki: CoordinatorPKI
    let rootSecret: [UInt8]
    let previousRootSecret: [UInt8]?
    let sharedSecrets: [String: SecretRecord]
    let previousSecrets: [String: SecretRecord]
    let userSecrets: [String: SecretRecord]
}

/// A prepared activation, ready to be counted and recorded.
struct PreparedActivation: Sendable {
    let response: ActivationResponse
    let uuid: UUID
    let tcbStatus: TCBStatus
    let advisoryIDs: [String]
}

/// What the marble environment always receives (MarbleRun `customizeParameters`, spec section 5.3).
public enum MarbleEnvironment {
    public static let rootCA = "MARBLE_PREDEFINED_ROOT_CA"
    public static let certificateChain = "MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN"
    public static let privateKey = "MARBLE_PREDEFINED_PRIVATE_KEY"
    public static let coordinatorRootCA = "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA"
}

extension Coordinator {
    /// Activates a marble (MarbleRun `Activate`, spec section 5.3).
    ///
    /// Checks, in order: the state accepts marbles; the marble type exists; the UUID parses; a client certificate was
    /// presented; the quote verifies (DCAP under the configured trust anchor, with the collateral's TCB status); the
    /// package policy (UniqueID, or SignerID + ProductID + minimum SecurityVersion; Debug equal to the enclave's;
    /// AcceptedTCBStatuses and AcceptedAdvisories); the report data starts with SHA-256(client certificate DER), so a
    /// quote replayed or made for another key is refused; the CSR's self-signature; and `MaxActivations`, counted
    /// exactly under concurrency. Then the marble certificate is issued, per-marble secrets are derived or issued, the
    /// parameters are rendered and the `MARBLE_PREDEFINED_*` entries added.
    ///
    /// The expensive work runs outside the actor, so activations proceed in parallel; their counters and update-log
    /// entries are committed in batches (one transaction for all activations that finished meanwhile), and each call
    /// returns only after its record is durable.
    ///
    /// - Parameter clientCertificateDER: the DER of the TLS client certificate the marble presented.
    public func activate(
        _ request: ActivationRequest, clientCertificateDER: [UInt8]?
    ) async throws(CoordinatorError)
        -> ActivationResponse
    {
        for _ in 0..<3 {
            let snapshot = try activationSnapshot(marbleType: request.marbleType)
            try checkActivationLimit(request.marbleType, snapshot: snapshot)
            let prepared = try await Self.prepareActivation(
                request, clientCertificateDER: clientCertificateDER, snapshot: snapshot, verifier: verifier, now: configuration.clock())
            guard snapshot.generation == generation else { continue }
            try checkActivationLimit(request.marbleType, snapshot: snapshot)
            activations[request.marbleType, default: 0] += 1
            do {
                try await recordActivation(request.marbleType, prepared: prepared)
            } catch {
                activations[request.marbleType, default: 1] -= 1
                throw error
            }
            return prepared.response
        }
        throw CoordinatorError(
            .internal, .stateChanged, found: "the manifest or PKI changed during three attempts",
            expected: "a stable state for the activation", hint: "retry the activation")
    }

    /// The files an activation of `marbleType` will write, so that the launcher can check their targets before it
    /// activates. Refused as an activation would be when no manifest is set or the type is unknown.
    public func activationPlan(marbleType: String) throws(CoordinatorError) -> ActivationPlan {
        let manifest = try acceptedManifest(marbleType: marbleType)
        return ActivationPlan(files: manifest.content.marbles[marbleType]?.parameters.files.keys.sorted() ?? [])
    }

    private func acceptedManifest(marbleType: String) throws(CoordinatorError) -> Manifest {
        guard core.state == .acceptingMarbles, let manifest else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "state \(core.state)", expected: "accepting marbles",
                hint: core.state == .recovery ? "recover the Coordinator first" : "set a manifest first")
        }
        guard manifest.content.marbles[marbleType] != nil else {
            throw CoordinatorError(
                .activationRefused, .unknownMarbleType, found: "marble type '\(marbleType)'",
                expected: "one of \(manifest.content.marbles.keys.sorted().joined(separator: ", "))",
                hint: "set EDG_MARBLE_TYPE to a type of the manifest's Marbles (names are case-sensitive)")
        }
        return manifest
    }

    private func activationSnapshot(marbleType: String) throws(CoordinatorError) -> ActivationSnapshot {
        let manifest = try acceptedManifest(marbleType: marbleType)
        return ActivationSnapshot(
            generation: generation, manifest: manifest, packages: effectivePackages(), pki: pki,
            rootSecret: Array(core.rootSecret), previousRootSecret: core.previousRootSecret.map(Array.init),
            sharedSecrets: core.sharedSecrets, previousSecrets: core.previousSecrets, userSecrets: core.userSecrets)
    }

    private func checkActivationLimit(_ marbleType: String, snapshot: ActivationSnapshot) throws(CoordinatorError) {
        let limit = snapshot.manifest.content.marbles[marbleType]?.maxActivations ?? 0
        let count = activations[marbleType] ?? 0
        guard limit == 0 || count < limit else {
            throw CoordinatorError(
                .activationRefused, .maxActivationsReached, found: "\(count) activations of marble type '\(marbleType)'",
                expected: "fewer than MaxActivations \(limit)",
                hint: "raise MaxActivations with a manifest update, or reuse an activated marble")
        }
    }

    /// Queues the activation's update-log entry (and counter) for the next batch commit and waits until it is durable.
    private func recordActivation(_ marbleType: String, prepared: PreparedActivation) async throws(CoordinatorError) {
        let event = AuditEvent.activation(marbleType: marbleType, uuid: prepared.uuid, time: configuration.clock())
        let result: Result<Void, CoordinatorError> = await withCheckedContinuation { continuation in
            activationBatch.append(PendingActivationRecord(marbleType: marbleType, event: event, continuation: continuation))
            if !isFlushingActivations {
                isFlushingActivations = true
                Task { await self.flushActivations() }
            }
        }
        try result.get()
        logger.info(
            "Marble activated",
            metadata: [
                "marbleType": "\(marbleType)", "uuid": "\(prepared.uuid.uuidString.lowercased())",
                "tcbStatus": "\(prepared.tcbStatus.rawValue)",
                "verification": "\(verifier.isSimulation ? "SIMULATION (proves nothing)" : "DCAP")",
            ])
    }

    /// Commits every queued activation record in one transaction, repeatedly, until none are left. Yielding first
    /// lets activations that are about to finish join the batch.
    private func flushActivations() async {
        await Task.yield()
        while !activationBatch.isEmpty {
            let batch = activationBatch
            activationBatch = []
            let limits = manifest?.content.marbles.mapValues(\.maxActivations) ?? [:]
            let counters = Set(batch.map(\.marbleType)).filter { (limits[$0] ?? 0) > 0 }.map {
                (PersistedCore.activationKey($0), Data("\(activations[$0] ?? 0)".utf8))
            }
            let result: Result<Void, CoordinatorError>
            do {
                try appendOnly(events: batch.map(\.event), extra: counters)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            for record in batch { record.continuation.resume(returning: result) }
            await Task.yield()
        }
        isFlushingActivations = false
    }

    /// Commits log entries and extra records without rewriting the core record.
    func appendOnly(events: [AuditEvent], extra: [(String, Data)]) throws(CoordinatorError) {
        guard let store = openStore else {
            throw CoordinatorError(
                .wrongState, .notAcceptingMarbles, found: "locked sealed state", expected: "unsealed state",
                hint: "recover the Coordinator first")
        }
        let signer = pki.rootKey
        do {
            try store.update { transaction in
                for (key, value) in extra { try transaction.put(key, value) }
                try AuditLog.append(events, signer: signer, in: transaction)
            }
        } catch {
            throw Self.storageError(error, "recording the activation")
        }
    }

    @concurrent
    static func prepareActivation(
        _ request: ActivationRequest, clientCertificateDER: [UInt8]?, snapshot: ActivationSnapshot, verifier: MarbleQuoteVerifier,
        now: Date
    ) async throws(CoordinatorError) -> PreparedActivation {
        let marbleType = request.marbleType
        guard let marble = snapshot.manifest.content.marbles[marbleType] else {
            throw CoordinatorError(
                .activationRefused, .unknownMarbleType, found: "marble type '\(marbleType)'",
                expected: "one of \(snapshot.manifest.content.marbles.keys.sorted().joined(separator: ", "))",
                hint: "set EDG_MARBLE_TYPE to a type of the manifest's Marbles")
        }
        guard let uuid = UUID(uuidString: request.uuid) else {
            throw CoordinatorError(
                .activationRefused, .invalidUUID, found: "'\(request.uuid.prefix(64))'", expected: "an RFC 4122 UUID",
                hint: "delete the marble's uuid file so the launcher creates a new one")
        }
        guard let clientCertificateDER, !clientCertificateDER.isEmpty else {
            throw CoordinatorError(
                .activationRefused, .missingClientCertificate, found: "no TLS client certificate",
                expected: "the self-signed certificate whose SHA-256 the quote binds",
                hint: "connect with the marble's certificate as TLS client certificate")
        }
        let verified = try await verifier.verify(quoteBytes: Array(request.quote), at: now)
        guard let package = snapshot.packages[marble.package] else {
            throw CoordinatorError(
                .internal, .invalidManifest, found: "marble type '\(marbleType)' names package '\(marble.package)'",
                expected: "a package of the manifest", hint: "fix the manifest")
        }
        try appraise(verified, package: package, packageName: marble.package)
        let certificateHash = Array(SHA256.hash(data: clientCertificateDER))
        let reportData = verified.quote.body.reportData
        guard reportData.count >= 32, Array(reportData.prefix(32)) == certificateHash else {
            throw CoordinatorError(
                .activationRefused, .reportDataMismatch, found: "report data starting \(Array(reportData.prefix(32)).hexadecimal)",
                expected: "SHA-256 of the presented client certificate, \(certificateHash.hexadecimal)",
                hint: "the quote was made for another key (or replayed from another marble): make a fresh quote over "
                    + "SHA-256 of the certificate this connection presents")
        }
        let csr: VerifiedCSR
        do {
            // The connection's TLS session authenticated the holder of its certificate's key: its handshake (or the
            // one it resumes, which only that holder can) checked a CertificateVerify made with that key.
            let connectionKey = try? Certificate(derEncoded: clientCertificateDER).publicKey
            csr = try VerifiedCSR(pemOrDER: Array(request.csr), provenKey: connectionKey)
        } catch {
            throw CoordinatorError(
                .activationRefused, .invalidCSR, found: "\(error)", expected: "a PKCS#10 request signed by its own key",
                hint: "send the CSR the launcher made with the marble's key")
        }
        let response = try issueAndRender(
            marbleType: marbleType, marble: marble, uuid: uuid, csr: csr, snapshot: snapshot, now: now)
        return PreparedActivation(response: response, uuid: uuid, tcbStatus: verified.status, advisoryIDs: verified.advisoryIDs)
    }

    /// Applies the package's policy (MarbleRun `PackageProperties.IsCompliant` and the TCB checks).
    static func appraise(_ verified: VerifiedQuote, package: Package, packageName: String) throws(CoordinatorError) {
        guard let report = verified.quote.body.sgxReport else {
            throw CoordinatorError(
                .activationRefused, .quoteRejected, found: "a \(verified.tee.rawValue) quote", expected: "an SGX quote",
                hint: "marbles run in SGX enclaves")
        }
        guard report.isDebug == package.debug else {
            throw CoordinatorError(
                .activationRefused, .debugMismatch,
                found: report.isDebug ? "a debug enclave" : "a production enclave",
                expected: "Debug \(package.debug) as package '\(packageName)' requires",
                hint: package.debug
                    ? "the package allows only debug enclaves (MarbleRun compares Debug exactly): set Debug false for production builds"
                    : "debug enclaves are readable by the host: sign the enclave for production, or set Debug true in the package for development")
        }
        var policy = AttestationPolicy(allowDebug: package.debug)
        if !package.uniqueID.isEmpty {
            guard let mrEnclave = [UInt8](hexadecimal: package.uniqueID) else {
                throw invalidPackageValue(packageName, "UniqueID", package.uniqueID)
            }
            policy.mrEnclaves = [mrEnclave]
        } else if !package.signerID.isEmpty {
            guard let mrSigner = [UInt8](hexadecimal: package.signerID) else {
                throw invalidPackageValue(packageName, "SignerID", package.signerID)
            }
            let productID = package.productID ?? 0
            let securityVersion = package.securityVersion ?? 0
            guard productID <= UInt16.max, securityVersion <= UInt16.max else {
                throw CoordinatorError(
                    .activationRefused, .quoteRejected, found: "ProductID \(productID), SecurityVersion \(securityVersion)",
                    expected: "values an SGX enclave can have (at most 65535)", hint: "fix package '\(packageName)' in the manifest")
            }
            policy.signer = AttestationPolicy.Signer(
                mrSigner: mrSigner, productID: UInt16(productID), minimumSecurityVersion: UInt16(securityVersion))
        }
        policy.acceptedTCBStatuses = AttestationPolicy.marbleRunAcceptedStatuses(package.acceptedTCBStatuses).accepted
        policy.acceptedAdvisories = package.acceptedAdvisories
        do {
            try policy.appraise(verified)
        } catch {
            throw MarbleQuoteVerifier.rejected(error)
        }
    }

    private static func invalidPackageValue(_ package: String, _ field: String, _ value: String) -> CoordinatorError {
        CoordinatorError(
            .activationRefused, .quoteRejected, found: "\(field) '\(value)' of package '\(package)'", expected: "32 bytes of hex",
            hint: "fix the package in the manifest")
    }

    private static func issueAndRender(
        marbleType: String, marble: Marble, uuid: UUID, csr: VerifiedCSR, snapshot: ActivationSnapshot, now: Date
    ) throws(CoordinatorError) -> ActivationResponse {
        let pki = snapshot.pki
        let credentials: MarbleCredentials
        let marbleCertificateDER: [UInt8]
        let marblePublicKeyDER: [UInt8]
        do {
            credentials = try pki.issueMarbleCredentials(for: csr, marbleUUID: uuid, marbleType: marbleType, now: now)
            marbleCertificateDER = try CoordinatorPKI.der(credentials.certificate)
            var serializer = DER.Serializer()
            try serializer.serialize(credentials.certificate.publicKey)
            marblePublicKeyDER = serializer.serializedBytes
        } catch {
            throw cryptographyError(error, "issuing the marble certificate")
        }
        let encoded = pki.encoded
        var secrets = snapshot.sharedSecrets.mapValues(\.value)
        for (name, record) in snapshot.userSecrets { secrets[name] = record.value }
        var previous = secrets
        for (name, record) in snapshot.previousSecrets { previous[name] = record.value }
        let info = SecretGenerationSpec.derivationInfo(marbleType: marbleType, marble: marble)
        for spec in snapshot.manifest.secretsToGenerate where spec.scope == .perMarble {
            guard let definition = snapshot.manifest.content.secrets[spec.name] else { continue }
            let value = try SecretFactory.perMarble(
                spec, definition: definition, rootSecret: snapshot.rootSecret, uuid: uuid, derivationInfo: info, pki: pki, now: now)
            secrets[spec.name] = value.value
            if let previousRoot = snapshot.previousRootSecret, case .symmetricKey = spec.kind {
                previous[spec.name] = try SecretFactory.perMarble(
                    spec, definition: definition, rootSecret: previousRoot, uuid: uuid, derivationInfo: info, pki: pki, now: now
                ).value
            } else {
                previous[spec.name] = value.value
            }
        }
        let input = RenderingInput(
            secrets: secrets, previousSecrets: previous,
            marbleCertificate: SecretValue(
                type: nil, certificate: marbleCertificateDER, publicKey: marblePublicKeyDER,
                privateKey: Array(credentials.privateKeyDER)),
            marbleRootCertificate: encoded.marbleRootDER, coordinatorRootCertificate: encoded.rootDER,
            coordinatorIntermediateCertificate: encoded.intermediateDER)
        let rendered: RenderedParameters
        do {
            rendered = try snapshot.manifest.renderParameters(forMarble: marbleType, input: input)
        } catch {
            throw CoordinatorError(
                .internal, .renderingFailed, found: "\(error.path): \(error.message)", expected: "parameters that render",
                hint: error.hint)
        }
        var env = rendered.env.mapValues { Data($0) }
        env[MarbleEnvironment.rootCA] = Data(encoded.marbleRootPEM.utf8)
        env[MarbleEnvironment.certificateChain] = Data(credentials.certificateChainPEM.utf8)
        env[MarbleEnvironment.privateKey] = Data(credentials.privateKeyPEM.utf8)
        env[MarbleEnvironment.coordinatorRootCA] = Data(encoded.rootPEM.utf8)
        return ActivationResponse(files: rendered.files.mapValues { Data($0) }, env: env, argv: rendered.argv)
    }
}
