import Attestation

/// Why the Coordinator refused or could not perform an operation.
///
/// Every error names the ``reason``, the value ``found`` and the value ``expected``, and a ``hint`` saying what to do.
/// ``kind`` groups reasons by who is at fault, which is what a transport maps to a status code (``httpStatus``) and
/// to JSend `fail` (the client's fault) or `error` (the server could not do it), following MarbleRun's API v2.
public struct CoordinatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Who is at fault, and so how a transport reports it.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The request is malformed (bad JSON, bad base64, a manifest that does not validate, a bad CSR).
        case badRequest
        /// No client certificate, or one that belongs to no user (MarbleRun answers 401).
        case unauthenticated
        /// A known user whose roles do not allow the operation (MarbleRun answers 401 as well).
        case permissionDenied
        /// A marble's activation was refused: its quote, identity or the activation limit.
        case activationRefused
        /// The Coordinator is not in a state that allows the operation.
        case wrongState
        /// The thing asked for does not exist (no pending update).
        case notFound
        /// A feature gate of the manifest is off.
        case featureDisabled
        /// The Coordinator failed (storage, platform, cryptography).
        case `internal`
    }

    /// The specific rule that refused the operation; stable identifiers for logs, metrics and tests.
    public enum Reason: String, Sendable, Hashable, Codable {
        // State.
        case notAcceptingManifest = "state.not_accepting_manifest"
        case notAcceptingMarbles = "state.not_accepting_marbles"
        case noManifest = "state.no_manifest"
        case notInRecovery = "state.not_in_recovery"
        case stateChanged = "state.changed_during_operation"
        // Requests.
        case malformedManifest = "request.malformed_manifest"
        case invalidManifest = "request.invalid_manifest"
        case invalidUpdate = "request.invalid_update"
        case malformedRequest = "request.malformed"
        case unknownSecret = "request.unknown_secret"
        case invalidSecretValue = "request.invalid_secret_value"
        case invalidQuote = "request.invalid_quote"
        // Users.
        case noClientCertificate = "auth.no_client_certificate"
        case unknownClientCertificate = "auth.unknown_client_certificate"
        case marbleCertificateAsUser = "auth.marble_certificate_used_as_user"
        case expiredClientCertificate = "auth.expired_client_certificate"
        case missingPermission = "auth.missing_permission"
        case notARequiredUser = "auth.not_a_required_user"
        case notAMarbleCertificate = "auth.not_a_marble_certificate"
        // Updates.
        case noPendingUpdate = "update.no_pending_update"
        case updateAlreadyPending = "update.already_pending"
        case acknowledgementMismatch = "update.acknowledgement_mismatch"
        case alreadyAcknowledged = "update.already_acknowledged"
        // Activation.
        case unknownMarbleType = "activation.unknown_marble_type"
        case invalidUUID = "activation.invalid_uuid"
        case invalidCSR = "activation.invalid_csr"
        case missingClientCertificate = "activation.missing_client_certificate"
        case quoteRejected = "activation.quote_rejected"
        case debugMismatch = "activation.debug_mismatch"
        case reportDataMismatch = "activation.report_data_mismatch"
        case maxActivationsReached = "activation.max_activations_reached"
        case collateralUnavailable = "activation.collateral_unavailable"
        case renderingFailed = "activation.rendering_failed"
        // Recovery.
        case invalidRecoveryShare = "recovery.invalid_share"
        // Internal.
        case storage = "internal.storage"
        case platform = "internal.platform"
        case cryptography = "internal.cryptography"
        case featureDisabled = "feature.disabled"
        // Configuration.
        case simulationTrustOnSecurePlatform = "configuration.simulation_trust_on_secure_platform"
    }

    public let kind: Kind
    public let reason: Reason
    public let found: String
    public let expected: String
    public let hint: String
    /// For refused quotes: the attestation check that failed, with its own found/expected/hint.
    public let attestation: AttestationError?

    public init(
        _ kind: Kind, _ reason: Reason, found: String, expected: String, hint: String, attestation: AttestationError? = nil
    ) {
        self.kind = kind
        self.reason = reason
        self.found = found
        self.expected = expected
        self.hint = hint
        self.attestation = attestation
    }

    /// One sentence per part: what failed, found vs expected, what to do.
    public var description: String {
        "\(reason.summary): found \(found); expected \(expected). \(hint)"
    }

    /// The HTTP status of this kind of failure: MarbleRun's API v2 (`coordinator/server/v2`, spec section 4.3), except
    /// that a request in the wrong state is the client's mistake (409), not a server error as MarbleRun answers it:
    /// monitoring pages on 5xx.
    public var httpStatus: Int {
        switch kind {
        case .badRequest: 400
        case .unauthenticated, .permissionDenied: 401
        case .activationRefused: 403
        case .featureDisabled: 403
        case .notFound: 404
        case .wrongState: 409
        case .internal: 500
        }
    }

    /// Whether a JSend answer is `fail` (the client is at fault) rather than `error`.
    public var isClientFault: Bool {
        switch kind {
        case .badRequest, .unauthenticated, .permissionDenied, .activationRefused: true
        case .wrongState, .notFound, .featureDisabled, .internal: false
        }
    }
}

extension CoordinatorError.Reason {
    /// A short human phrase for messages.
    public var summary: String {
        switch self {
        case .notAcceptingManifest: "the Coordinator does not accept a manifest now"
        case .notAcceptingMarbles: "the Coordinator does not accept marbles or client operations now"
        case .noManifest: "no manifest is set"
        case .notInRecovery: "the Coordinator is not in recovery mode"
        case .stateChanged: "the Coordinator's state changed while the operation ran"
        case .malformedManifest: "the manifest cannot be read"
        case .invalidManifest: "the manifest is invalid"
        case .invalidUpdate: "the update manifest is invalid"
        case .malformedRequest: "the request is malformed"
        case .unknownSecret: "the secret is not defined"
        case .invalidSecretValue: "the secret value is invalid"
        case .invalidQuote: "the quote does not verify"
        case .noClientCertificate: "no client certificate was presented"
        case .unknownClientCertificate: "the client certificate belongs to no user"
        case .marbleCertificateAsUser: "a marble certificate was presented as a user certificate"
        case .expiredClientCertificate: "the client certificate is not valid now"
        case .missingPermission: "the user lacks the permission"
        case .notARequiredUser: "the user is not asked to acknowledge this update"
        case .notAMarbleCertificate: "the client certificate is not a marble certificate of this Coordinator"
        case .noPendingUpdate: "there is no pending manifest update"
        case .updateAlreadyPending: "another manifest update is pending"
        case .acknowledgementMismatch: "the acknowledged manifest differs from the pending update"
        case .alreadyAcknowledged: "the user has already acknowledged this update"
        case .unknownMarbleType: "the marble type is not in the manifest"
        case .invalidUUID: "the marble UUID is invalid"
        case .invalidCSR: "the certificate signing request is invalid"
        case .missingClientCertificate: "the marble presented no TLS client certificate"
        case .quoteRejected: "the marble's quote was rejected"
        case .debugMismatch: "the enclave's debug attribute does not match the package"
        case .reportDataMismatch: "the quote does not bind the marble's TLS certificate"
        case .maxActivationsReached: "the marble type reached MaxActivations"
        case .collateralUnavailable: "verification collateral is unavailable"
        case .renderingFailed: "the marble's parameters cannot be rendered"
        case .invalidRecoveryShare: "the recovery share is invalid"
        case .storage: "the sealed state could not be read or written"
        case .platform: "the enclave platform failed"
        case .cryptography: "a cryptographic operation failed"
        case .featureDisabled: "the feature is disabled in the manifest"
        case .simulationTrustOnSecurePlatform: "a Coordinator on a real enclave platform was told to trust simulated quotes"
        }
    }
}
