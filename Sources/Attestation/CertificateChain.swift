import Foundation
import SwiftASN1
import X509

/// PEM handling as lenient as dcap-qvl's: labels are not checked, text between blocks is ignored, and a trailing NUL
/// (as quotes carry) is harmless.
enum PEM {
    private static let begin = Array("-----BEGIN ".utf8)
    private static let end = Array("-----END ".utf8)
    private static let dashes = Array("-----".utf8)

    /// The DER payload of every PEM block, in order; nil when a block's base64 is invalid or unterminated.
    static func derBlocks<Bytes: RandomAccessCollection<UInt8>>(_ text: Bytes) -> [[UInt8]]? where Bytes.Index == Int {
        var blocks = [[UInt8]]()
        var index = text.startIndex
        while let beginIndex = firstIndex(of: begin, in: text, from: index) {
            guard let labelEnd = firstIndex(of: dashes, in: text, from: beginIndex + begin.count),
                let endIndex = firstIndex(of: end, in: text, from: labelEnd + dashes.count)
            else { return nil }
            let body = text[(labelEnd + dashes.count)..<endIndex].filter { $0 > 0x20 }
            guard let der = Data(base64Encoded: Data(body)) else { return nil }
            blocks.append(Array(der))
            guard let closing = firstIndex(of: dashes, in: text, from: endIndex + end.count) else { return nil }
            index = closing + dashes.count
        }
        return blocks
    }

    private static func firstIndex<Bytes: RandomAccessCollection<UInt8>>(of needle: [UInt8], in text: Bytes, from start: Int) -> Int?
    where Bytes.Index == Int {
        guard let first = needle.first, text.endIndex - start >= needle.count else { return nil }
        var index = start
        let last = text.endIndex - needle.count
        while index <= last {
            if text[index] == first, text[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// Parses every block as a certificate. `check` and `what` name the chain in errors. A block holding the trust
    /// anchor's exact DER is not parsed again.
    static func certificates<Bytes: RandomAccessCollection<UInt8>>(
        _ text: Bytes, check: Check, what: String, anchor: TrustAnchor
    ) throws(AttestationError) -> [Certificate]
    where Bytes.Index == Int {
        guard let blocks = derBlocks(text) else {
            throw AttestationError(
                check: check, found: "\(what) with a PEM block whose base64 is invalid or unterminated",
                expected: "PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
                hint: "The chain text was damaged in transit; fetch it again.")
        }
        var certificates = [Certificate]()
        certificates.reserveCapacity(blocks.count)
        for (position, der) in blocks.enumerated() {
            if der == anchor.der {
                certificates.append(anchor.certificate)
                continue
            }
            do {
                certificates.append(try Certificate(derEncoded: der))
            } catch {
                throw AttestationError(
                    check: check, found: "PEM block \(position + 1) of \(what) is not an X.509 certificate (\(error))",
                    expected: "a DER X.509 certificate in every PEM block",
                    hint: "The chain is damaged; fetch it again from Intel PCS or the PCCS.")
            }
        }
        return certificates
    }
}

/// The two CRLs of a collateral set, after the Root CA CRL's signature has been checked against the trust anchor.
struct RevocationLists: Sendable {
    let root: CertificateRevocationList
    let pck: CertificateRevocationList
}

/// A certificate path from a leaf up to (not including) the trust anchor, whose signatures have been verified.
///
/// Validity periods and revocation depend on the instant and on the CRLs, so they are checked separately by
/// ``check(at:against:anchor:check:what:verifiedPCKCRL:)``: a path can be cached and re-checked cheaply.
struct CertifiedPath: Sendable {
    /// Leaf first; the last element was issued by the trust anchor.
    let certificates: [Certificate]
    var leaf: Certificate { certificates[0] }

    /// Builds the path like webpki does for dcap-qvl: the first certificate is the end entity (it must not be a CA);
    /// the others, in any order and with or without the root, are candidate intermediates (at most 4 are used).
    static func build(_ certificates: [Certificate], anchor: TrustAnchor, check: Check, what: String) throws(AttestationError) -> CertifiedPath {
        guard let leaf = certificates.first else {
            throw AttestationError(
                check: check, found: "\(what) with no certificate", expected: "a leaf certificate, its CA, and optionally the root",
                hint: "The chain is missing; a quote needs certification data type 5 (PEM chain), or the collateral a pck_certificate_chain.")
        }
        if isCertificateAuthority(leaf) {
            throw AttestationError(
                check: check, found: "a CA certificate (\(leaf.subject)) first in \(what)",
                expected: "the end-entity (leaf) certificate first",
                hint: "The chain is out of order or lacks its leaf; the leaf must come first, then its issuers.")
        }
        var path = [leaf]
        var current = leaf
        let candidates = certificates.dropFirst()
        while true {
            if current.issuer == anchor.certificate.subject {
                guard anchor.certificate.publicKey.isValidSignature(current.signature, for: current) else {
                    throw invalidSignature(current, check: check, what: what)
                }
                return CertifiedPath(certificates: path)
            }
            guard path.count <= 4, let issuer = candidates.first(where: { $0.subject == current.issuer && $0 != current }) else {
                throw AttestationError(
                    check: check, found: "no issuer for \(current.subject) (issued by \(current.issuer)) in \(what)",
                    expected: "a path to the trust anchor \(anchor.certificate.subject)",
                    hint: anchor.isSimulation
                        ? "The chain does not lead to the simulation root; use the root that signed this platform's certificates."
                        : "The chain is incomplete or was issued under another root (a test or simulation root?); use the platform's genuine Intel chain."
                )
            }
            guard isCertificateAuthority(issuer) else {
                throw AttestationError(
                    check: check, found: "\(issuer.subject) issues certificates but is not a CA", expected: "a CA certificate",
                    hint: "The chain is malformed; fetch it again.")
            }
            guard issuer.publicKey.isValidSignature(current.signature, for: current) else {
                throw invalidSignature(current, check: check, what: what)
            }
            path.append(issuer)
            current = issuer
        }
    }

    private static func invalidSignature(_ certificate: Certificate, check: Check, what: String) -> AttestationError {
        AttestationError(
            check: check, found: "an invalid issuer signature on \(certificate.subject) in \(what)",
            expected: "a signature by \(certificate.issuer)",
            hint: "The certificate was altered or does not belong to this issuer; fetch the chain again.")
    }

    static func isCertificateAuthority(_ certificate: Certificate) -> Bool {
        guard let constraints = try? certificate.extensions.basicConstraints else { return false }
        if case .isCertificateAuthority = constraints { return true }
        return false
    }

    /// Checks validity periods (both ends inclusive) and revocation of every certificate in the path at `seconds`.
    ///
    /// Every certificate must be covered by the CRL of its issuer, as webpki requires ("unknown status is denied").
    /// The PCK CRL's signature is checked against its issuer here, unless `verifiedPCKCRL` says it already was.
    func check(
        at seconds: Int64, against lists: RevocationLists, anchor: TrustAnchor, check: Check, what: String,
        verifiedPCKCRL: (Certificate) -> Bool
    ) throws(AttestationError) {
        for (position, certificate) in certificates.enumerated() {
            try Self.checkValidity(certificate, at: seconds, check: check, what: what)
            let issuerCertificate = position + 1 < certificates.count ? certificates[position + 1] : anchor.certificate
            let list: CertificateRevocationList
            if certificate.issuer == lists.root.issuer {
                list = lists.root
            } else if certificate.issuer == lists.pck.issuer {
                list = lists.pck
                guard verifiedPCKCRL(issuerCertificate) else {
                    throw AttestationError(
                        check: .pckCRL, found: "a PCK CRL whose signature does not verify with \(issuerCertificate.subject)",
                        expected: "a CRL signed by the issuer of \(certificate.subject)",
                        hint: "The PCK CRL was altered or belongs to another CA; fetch the collateral again.")
                }
            } else {
                throw AttestationError(
                    check: check, found: "no CRL from \(certificate.issuer), which issued \(certificate.subject)",
                    expected: "a CRL by that issuer (the Root CA CRL covers root-issued certificates, the PCK CRL the PCK leaf)",
                    hint: "The collateral's PCK CRL is for the other PCK CA (Platform vs Processor): fetch collateral for this platform's CA.")
            }
            if let nextUpdate = list.nextUpdate, seconds >= nextUpdate {
                throw AttestationError(
                    check: list.issuer == lists.root.issuer ? .rootCRL : .pckCRL,
                    found: "a CRL from \(list.issuer) that expired at \(UTCTimestamp.iso8601(nextUpdate))",
                    expected: "a CRL whose nextUpdate is after \(UTCTimestamp.iso8601(seconds))",
                    hint: "Fetch current collateral, or verify as of a time when this collateral was valid.")
            }
            if list.revokes(certificate) {
                throw AttestationError(
                    check: check, found: "\(certificate.subject) (serial \(certificate.serialNumber)) revoked by \(list.issuer)",
                    expected: "a certificate not listed in its issuer's CRL",
                    hint: "Intel revoked this certificate: the platform or signer key is no longer trusted. Do not accept it.")
            }
        }
    }

    static func checkValidity(_ certificate: Certificate, at seconds: Int64, check: Check, what: String) throws(AttestationError) {
        let notBefore = certificate.notValidBefore.unixSeconds
        let notAfter = certificate.notValidAfter.unixSeconds
        guard notBefore <= seconds, seconds <= notAfter else {
            throw AttestationError(
                check: check,
                found: "\(certificate.subject) in \(what) valid \(UTCTimestamp.iso8601(notBefore)) to \(UTCTimestamp.iso8601(notAfter))",
                expected: "validity at \(UTCTimestamp.iso8601(seconds))",
                hint: seconds < notBefore
                    ? "The certificate is not valid yet at the verification time: check the time given, or use older collateral."
                    : "The certificate has expired: fetch current collateral or a current PCK certificate.")
        }
    }

    /// The earliest notAfter in the path.
    var earliestExpiry: Int64 { certificates.map { $0.notValidAfter.unixSeconds }.min() ?? .max }
}
