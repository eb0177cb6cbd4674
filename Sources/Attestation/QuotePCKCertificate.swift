import Foundation
import X509

/// The PCK leaf certificate a quote carries, read for what collateral lookup needs: the SGX extension (FMSPC, PPID,
/// TCB) and which Intel CA issued it.
public struct QuotePCKCertificate: Sendable, Hashable {
    public let sgxExtension: PCKExtension
    public let authority: PCKCertificateAuthority
    public let subject: String
    public let issuer: String
    public let notValidBefore: Date
    public let notValidAfter: Date

    /// Reads the first certificate of `pckCertificateChain` when given (quotes with an encrypted PPID carry no chain),
    /// otherwise of the quote's certification data (type 5).
    public init(quote: Quote, pckCertificateChain: String? = nil) throws(CollateralSourceError) {
        let chainText: [UInt8]
        if let pckCertificateChain {
            chainText = Array(pckCertificateChain.utf8)
        } else {
            let certification = quote.signatureData.certificationData
            guard certification.type == CertificationData.pckCertificateChainType else {
                throw .quoteWithoutPCKChain(certificationType: Int(certification.type))
            }
            chainText = certification.data
        }
        let leaf: Certificate
        do {
            let text = String(decoding: chainText, as: UTF8.self).replacingOccurrences(of: "\0", with: "")
            guard let end = text.range(of: "-----END CERTIFICATE-----") else {
                throw CollateralSourceError.pckLeafUnreadable(reason: "no PEM certificate in the PCK chain")
            }
            leaf = try Certificate(pemEncoded: String(text[..<end.upperBound]))
        } catch let error as CollateralSourceError {
            throw error
        } catch {
            throw .pckLeafUnreadable(reason: "the first PEM block is not an X.509 certificate (\(error))")
        }
        do {
            sgxExtension = try PCKExtension(certificate: leaf)
        } catch {
            throw .pckLeafUnreadable(reason: error.description)
        }
        issuer = leaf.issuer.description
        subject = leaf.subject.description
        notValidBefore = leaf.notValidBefore
        notValidAfter = leaf.notValidAfter
        if issuer.contains("Processor") {
            authority = .processor
        } else if issuer.contains("Platform") {
            authority = .platform
        } else {
            throw .pckLeafUnreadable(reason: "issuer '\(issuer)' is neither the Intel SGX PCK Processor CA nor the Platform CA")
        }
    }
}

extension CollateralRequest {
    /// The request that fetches collateral for `quote`: its TEE type, and the FMSPC and issuing CA of its PCK leaf.
    public init(quote: Quote, pckCertificateChain: String? = nil) throws(CollateralSourceError) {
        let pck = try QuotePCKCertificate(quote: quote, pckCertificateChain: pckCertificateChain)
        try self.init(tee: quote.tee == .sgx ? .sgx : .tdx, fmspc: pck.sgxExtension.fmspc, certificateAuthority: pck.authority)
    }
}
