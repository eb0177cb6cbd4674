import Attestation
import Crypto
import Foundation
import SwiftASN1
import X509

/// A simulated SGX machine: everything Intel and the CPU would provide for DCAP attestation, made of keys kept in a
/// state directory. It has its own certificate hierarchy (simulation root CA -> PCK Platform CA -> PCK certificate with
/// the SGX extension; root CA -> TCB Signing), a quoting enclave with an attestation key, signed collateral on demand,
/// and a secret from which sealing keys are derived.
///
/// Quotes are in the real SGX v3 format and verify with a DCAP verifier that trusts this machine's root certificate,
/// and with nothing else. The machine offers no protection whatsoever: anyone who can read the state directory can
/// forge its quotes. Use it only through `SimulatedPlatform`, which must be enabled explicitly.
///
/// The state directory holds one file, `simulated-sgx-machine.json` (mode 0600), written once; later openings (a
/// restarted process, a Coordinator and its marbles on the same host) get the same identity.
public struct SimulatedSGXMachine: Sendable {
    public static let stateFileName = "simulated-sgx-machine.json"

    public let stateDirectory: URL
    public let hardware: SimulatedHardware
    public let tcbState: SimulatedTCBState
    public let rootCertificate: Certificate
    public let pckCACertificate: Certificate
    public let pckCertificate: Certificate
    public let tcbSigningCertificate: Certificate

    private let rootKey: P256.Signing.PrivateKey
    private let pckCAKey: P256.Signing.PrivateKey
    private let tcbSigningKey: P256.Signing.PrivateKey
    private let attestationKey: P256.Signing.PrivateKey
    private let qeCertification: SGXQuoteV3.QECertification
    private let qeID: [UInt8]
    private let qeMREnclave: [UInt8]
    private let qeMRSigner: [UInt8]
    private let sealingSecret: SymmetricKey
    private let rootPEM: String
    private let pckCAPEM: String
    private let pckPEM: String
    private let tcbSigningPEM: String

    /// Opens the machine kept in `stateDirectory`, or creates one there (certificates valid from one hour before
    /// `instant` for 20 years) when there is none. Concurrent creators agree on one machine.
    public static func openOrCreate(
        stateDirectory: URL, hardware: SimulatedHardware = SimulatedHardware(),
        tcbState: SimulatedTCBState = .upToDate, at instant: Date = Date()
    ) throws(PlatformError) -> SimulatedSGXMachine {
        let file = stateDirectory.appendingPathComponent(stateFileName)
        if FileManager.default.fileExists(atPath: file.path) {
            return try open(stateDirectory: stateDirectory)
        }
        try hardware.validate()
        try tcbState.validate()
        let state = try PersistedState.create(hardware: hardware, tcbState: tcbState, at: instant)
        try state.writeIfAbsent(to: file)
        return try open(stateDirectory: stateDirectory)
    }

    /// Opens an existing machine; fails when the directory holds none.
    public static func open(stateDirectory: URL) throws(PlatformError) -> SimulatedSGXMachine {
        let file = stateDirectory.appendingPathComponent(stateFileName)
        let state: PersistedState
        do {
            state = try JSONDecoder().decode(PersistedState.self, from: Data(contentsOf: file))
        } catch {
            throw .simulationState(path: file.path, reason: "cannot read it (\(error))")
        }
        return try SimulatedSGXMachine(state: state, stateDirectory: stateDirectory, file: file)
    }

    /// The same machine with another TCB situation, persisted so that every process using the directory sees it.
    public func settingTCBState(_ newState: SimulatedTCBState) throws(PlatformError) -> SimulatedSGXMachine {
        try newState.validate()
        let file = stateDirectory.appendingPathComponent(Self.stateFileName)
        var state = try persistedState()
        state.tcbState = newState
        try state.replace(at: file)
        return try SimulatedSGXMachine(state: state, stateDirectory: stateDirectory, file: file)
    }

    private init(state: PersistedState, stateDirectory: URL, file: URL) throws(PlatformError) {
        guard state.format == PersistedState.currentFormat else {
            throw .simulationState(
                path: file.path, reason: "format \(state.format), expected \(PersistedState.currentFormat)")
        }
        func bytes(_ text: String, _ name: String, count: Int) throws(PlatformError) -> [UInt8] {
            guard let value = [UInt8](hexadecimal: text), value.count == count else {
                throw .simulationState(path: file.path, reason: "'\(name)' is not \(count) hexadecimal bytes")
            }
            return value
        }
        let pckKey: P256.Signing.PrivateKey
        do {
            rootCertificate = try Certificate(pemEncoded: state.rootCertificate)
            pckCACertificate = try Certificate(pemEncoded: state.pckCACertificate)
            pckCertificate = try Certificate(pemEncoded: state.pckCertificate)
            tcbSigningCertificate = try Certificate(pemEncoded: state.tcbSigningCertificate)
            rootKey = try P256.Signing.PrivateKey(pemRepresentation: state.rootKey)
            pckCAKey = try P256.Signing.PrivateKey(pemRepresentation: state.pckCAKey)
            pckKey = try P256.Signing.PrivateKey(pemRepresentation: state.pckKey)
            tcbSigningKey = try P256.Signing.PrivateKey(pemRepresentation: state.tcbSigningKey)
            attestationKey = try P256.Signing.PrivateKey(pemRepresentation: state.attestationKey)
        } catch {
            throw .simulationState(path: file.path, reason: "a certificate or key does not parse (\(error))")
        }
        self.stateDirectory = stateDirectory
        rootPEM = Self.normalized(state.rootCertificate)
        pckCAPEM = Self.normalized(state.pckCACertificate)
        pckPEM = Self.normalized(state.pckCertificate)
        tcbSigningPEM = Self.normalized(state.tcbSigningCertificate)
        hardware = state.hardware
        tcbState = state.tcbState
        qeID = try bytes(state.qeID, "qeID", count: 16)
        qeMREnclave = try bytes(state.qeMREnclave, "qeMREnclave", count: 32)
        qeMRSigner = try bytes(state.qeMRSigner, "qeMRSigner", count: 32)
        sealingSecret = SymmetricKey(data: try bytes(state.sealingSecret, "sealingSecret", count: 32))
        try hardware.validate()
        try tcbState.validate()
        let qeReport = SGXReportBody(
            cpuSVN: hardware.cpuSVN, attributeFlags: SimulatedQuotingEnclave.attributeFlags,
            xfrm: SimulatedQuotingEnclave.xfrm, mrEnclave: qeMREnclave, mrSigner: qeMRSigner,
            productID: SimulatedQuotingEnclave.productID, securityVersion: hardware.qeSecurityVersion,
            reportData: SGXQuoteV3.qeReportData(
                attestationKey: attestationKey.publicKey,
                authenticationData: SimulatedQuotingEnclave.authenticationData))
        do {
            qeCertification = try SGXQuoteV3.QECertification(
                report: qeReport, authenticationData: SimulatedQuotingEnclave.authenticationData, pckKey: pckKey)
        } catch {
            throw .simulationCryptography(step: "certify the attestation key", reason: "\(error)")
        }
    }

    /// The root certificate as DER, the trust anchor a verifier must be given to accept this machine's quotes.
    public func rootCertificateDER() throws(PlatformError) -> [UInt8] {
        try Self.der(rootCertificate, step: "serialize the root certificate")
    }

    /// The root certificate as PEM.
    public var rootCertificatePEM: String { rootPEM }

    /// The PEM chain a quote carries: PCK certificate, PCK Platform CA, root.
    public var pckCertificateChainPEM: String { pckPEM + pckCAPEM + rootPEM }

    /// Signed collateral for this machine's quotes, issued one hour before `instant` and valid for `validity` after it:
    /// both CRLs, TCB Info v3 and QE Identity v2 signed by the TCB Signing key, with their issuer chains.
    public func collateral(at instant: Date, validity: TimeInterval = 30 * 86_400) throws(PlatformError) -> Collateral {
        let issued = instant.addingTimeInterval(-3600)
        let nextUpdate = instant.addingTimeInterval(validity)
        let tcbInfo = Array(
            SimulatedCollateralText.tcbInfo(hardware: hardware, state: tcbState, issued: issued, nextUpdate: nextUpdate).utf8)
        let qeIdentity = Array(
            SimulatedCollateralText.qeIdentity(
                hardware: hardware, state: tcbState, qeMRSigner: qeMRSigner, issued: issued, nextUpdate: nextUpdate
            ).utf8)
        let tcbChain = tcbSigningPEM + rootPEM
        let pckCAChain = pckCAPEM + rootPEM
        do {
            let rootCRL = try RevocationListBuilder(
                issuer: rootCertificate.subject, issuerKeyIdentifier: Self.keyIdentifier(rootKey.publicKey),
                thisUpdate: issued, nextUpdate: nextUpdate
            ).signed(with: rootKey)
            let pckCRL = try RevocationListBuilder(
                issuer: pckCACertificate.subject, issuerKeyIdentifier: Self.keyIdentifier(pckCAKey.publicKey),
                thisUpdate: issued, nextUpdate: nextUpdate,
                revokedSerialNumbers: tcbState.pckCertificateRevoked ? [pckCertificate.serialNumber] : []
            ).signed(with: pckCAKey)
            return Collateral(
                pckCRLIssuerChain: pckCAChain, rootCACRL: rootCRL, pckCRL: pckCRL,
                tcbInfoIssuerChain: tcbChain, tcbInfo: tcbInfo,
                tcbInfoSignature: try tcbSigningKey.signature(for: tcbInfo).rawRepresentation.bytes,
                qeIdentityIssuerChain: tcbChain, qeIdentity: qeIdentity,
                qeIdentitySignature: try tcbSigningKey.signature(for: qeIdentity).rawRepresentation.bytes)
        } catch {
            throw .simulationCryptography(step: "sign the collateral", reason: "\(error)")
        }
    }

    /// A v3 quote for an enclave with `measurement` running on this machine, carrying `reportData`.
    public func quote(for measurement: EnclaveMeasurement, reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        try ReportData.validate(reportData)
        guard measurement.mrEnclave.count == 32, measurement.mrSigner.count == 32 else {
            throw .simulationSetting(
                name: "enclave measurement",
                found: "MRENCLAVE \(measurement.mrEnclave.count) bytes, MRSIGNER \(measurement.mrSigner.count) bytes",
                expected: "32 bytes each")
        }
        let enclaveFlags =
            SGXReportBody.AttributeFlag.initialized | SGXReportBody.AttributeFlag.mode64Bit
            | (measurement.debug ? SGXReportBody.AttributeFlag.debug : 0)
        let enclaveReport = SGXReportBody(
            cpuSVN: hardware.cpuSVN, attributeFlags: enclaveFlags, xfrm: 0x03,
            mrEnclave: measurement.mrEnclave, mrSigner: measurement.mrSigner,
            productID: measurement.productID, securityVersion: measurement.securityVersion, reportData: reportData)
        let quote = SGXQuoteV3(
            qeSecurityVersion: hardware.qeSecurityVersion, pceSecurityVersion: hardware.pceSVN, qeID: qeID,
            enclaveReport: enclaveReport, attestationKey: attestationKey, qeCertification: qeCertification,
            pckCertificateChainPEM: pckCertificateChainPEM)
        do {
            return try quote.bytes()
        } catch {
            throw .simulationCryptography(step: "sign the quote", reason: "\(error)")
        }
    }

    /// The 384-byte report body an enclave with `measurement` gets from EREPORT on this machine (what Gramine's
    /// `/dev/attestation/report` starts with).
    public func reportBody(for measurement: EnclaveMeasurement, reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        let quote = try quote(for: measurement, reportData: reportData)
        return Array(quote[SGXQuoteV3.headerSize..<SGXQuoteV3.headerSize + SGXReportBody.size])
    }

    /// The sealing key EGETKEY would give an enclave with `measurement` on this machine: derived from the machine's
    /// secret, the chosen identity (MRENCLAVE, or MRSIGNER), ISVPRODID, ISVSVN, the DEBUG attribute and the CPU SVN.
    public func sealingKey(for measurement: EnclaveMeasurement, policy: SealingKeyPolicy) -> SymmetricKey {
        var request = Array("cloister-simulated-egetkey-v1".utf8) + [0]
        switch policy {
        case .enclave: request += [1] + measurement.mrEnclave
        case .signer: request += [2] + measurement.mrSigner
        }
        request.append(littleEndian: measurement.productID)
        request.append(littleEndian: measurement.securityVersion)
        request.append(measurement.debug ? 1 : 0)
        request += hardware.cpuSVN
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: sealingSecret, info: request, outputByteCount: 16)
    }

    private func persistedState() throws(PlatformError) -> PersistedState {
        let file = stateDirectory.appendingPathComponent(Self.stateFileName)
        do {
            return try JSONDecoder().decode(PersistedState.self, from: Data(contentsOf: file))
        } catch {
            throw .simulationState(path: file.path, reason: "cannot read it (\(error))")
        }
    }

    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: key.x963Representation))
    }

    static func der(_ certificate: Certificate, step: String) throws(PlatformError) -> [UInt8] {
        do {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return serializer.serializedBytes
        } catch {
            throw .simulationCryptography(step: step, reason: "\(error)")
        }
    }

    /// PEM text ending in exactly one newline, so that blocks concatenate into a chain.
    private static func normalized(_ pem: String) -> String {
        pem.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
    }
}

/// What the state file holds.
private struct PersistedState: Codable {
    static let currentFormat = 1

    var format: Int
    var createdAt: Date
    var hardware: SimulatedHardware
    var tcbState: SimulatedTCBState
    var rootCertificate: String
    var rootKey: String
    var pckCACertificate: String
    var pckCAKey: String
    var pckCertificate: String
    var pckKey: String
    var tcbSigningCertificate: String
    var tcbSigningKey: String
    var attestationKey: String
    var qeID: String
    var qeMREnclave: String
    var qeMRSigner: String
    var sealingSecret: String

    static func create(
        hardware: SimulatedHardware, tcbState: SimulatedTCBState, at instant: Date
    ) throws(PlatformError) -> PersistedState {
        let notBefore = instant.addingTimeInterval(-3600)
        let rootKey = P256.Signing.PrivateKey()
        let pckCAKey = P256.Signing.PrivateKey()
        let pckKey = P256.Signing.PrivateKey()
        let tcbSigningKey = P256.Signing.PrivateKey()
        do {
            let rootName = try simulationName("Cloister Simulated SGX Root CA")
            let root = try issue(
                subject: rootName, key: rootKey.publicKey, issuer: rootName, issuerKey: rootKey,
                notBefore: notBefore, years: 20, authority: true, extra: [])
            let pckCAName = try simulationName("Cloister Simulated SGX PCK Platform CA")
            let pckCA = try issue(
                subject: pckCAName, key: pckCAKey.publicKey, issuer: rootName, issuerKey: rootKey,
                notBefore: notBefore, years: 15, authority: true, extra: [])
            let sgxExtension = PCKCertificateExtension(
                ppid: random(16), cpuSVN: hardware.cpuSVN, pceSVN: hardware.pceSVN, pceID: hardware.pceID,
                fmspc: hardware.fmspc, sgxType: hardware.sgxType)
            let pck = try issue(
                subject: try simulationName("Cloister Simulated SGX PCK Certificate"), key: pckKey.publicKey,
                issuer: pckCAName, issuerKey: pckCAKey, notBefore: notBefore, years: 7, authority: false,
                extra: [try sgxExtension.certificateExtension()])
            let tcbSigning = try issue(
                subject: try simulationName("Cloister Simulated SGX TCB Signing"), key: tcbSigningKey.publicKey,
                issuer: rootName, issuerKey: rootKey, notBefore: notBefore, years: 7, authority: false, extra: [])
            return PersistedState(
                format: currentFormat, createdAt: instant, hardware: hardware, tcbState: tcbState,
                rootCertificate: try root.serializeAsPEM().pemString, rootKey: rootKey.pemRepresentation,
                pckCACertificate: try pckCA.serializeAsPEM().pemString, pckCAKey: pckCAKey.pemRepresentation,
                pckCertificate: try pck.serializeAsPEM().pemString, pckKey: pckKey.pemRepresentation,
                tcbSigningCertificate: try tcbSigning.serializeAsPEM().pemString,
                tcbSigningKey: tcbSigningKey.pemRepresentation,
                attestationKey: P256.Signing.PrivateKey().pemRepresentation,
                qeID: random(16).hexadecimal, qeMREnclave: random(32).hexadecimal, qeMRSigner: random(32).hexadecimal,
                sealingSecret: random(32).hexadecimal)
        } catch {
            throw .simulationCryptography(step: "create the certificate hierarchy", reason: "\(error)")
        }
    }

    /// Creates the file only when no other process got there first: written aside, then hard-linked into place.
    func writeIfAbsent(to file: URL) throws(PlatformError) {
        let directory = file.deletingLastPathComponent()
        let staging = directory.appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try write(to: staging)
            defer { try? FileManager.default.removeItem(at: staging) }
            if link(staging.path, file.path) != 0 && errno != EEXIST {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            throw .simulationState(path: file.path, reason: "cannot create it (\(error))")
        }
    }

    /// Replaces the file atomically.
    func replace(at file: URL) throws(PlatformError) {
        let staging = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString)")
        do {
            try write(to: staging)
            if rename(staging.path, file.path) != 0 {
                let code = errno
                try? FileManager.default.removeItem(at: staging)
                throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
            }
        } catch {
            throw .simulationState(path: file.path, reason: "cannot replace it (\(error))")
        }
    }

    private func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        guard FileManager.default.createFile(atPath: url.path, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    private static func simulationName(_ commonName: String) throws -> DistinguishedName {
        try DistinguishedName {
            CommonName(commonName)
            OrganizationName("Cloister simulation - INSECURE, not Intel")
        }
    }

    private static func issue(
        subject: DistinguishedName, key: P256.Signing.PublicKey, issuer: DistinguishedName,
        issuerKey: P256.Signing.PrivateKey, notBefore: Date, years: Double, authority: Bool,
        extra: [Certificate.Extension]
    ) throws -> Certificate {
        var extensions = try Certificate.Extensions {
            Critical(
                authority
                    ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority
            )
            Critical(
                authority
                    ? KeyUsage(keyCertSign: true, cRLSign: true) : KeyUsage(digitalSignature: true, nonRepudiation: true))
            SubjectKeyIdentifier(keyIdentifier: ArraySlice(SimulatedSGXMachine.keyIdentifier(key)))
            AuthorityKeyIdentifier(keyIdentifier: ArraySlice(SimulatedSGXMachine.keyIdentifier(issuerKey.publicKey)))
        }
        for item in extra { try extensions.append(item) }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key),
            notValidBefore: notBefore, notValidAfter: notBefore.addingTimeInterval(years * 365.25 * 86_400),
            issuer: issuer, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(issuerKey))
    }

    private static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in generator.next() }
    }
}

extension Data {
    fileprivate var bytes: [UInt8] { Array(self) }
}
