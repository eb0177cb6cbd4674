import Attestation
import Foundation
import TestSupport
import Testing

/// Byte ranges of a quote that are covered by a signature or by the QE report's hash binding: changing any byte in
/// them must make verification fail.
func protectedRanges(_ quote: Quote) -> [Range<Int>] {
    let layout = quote.layout
    let authOffset = layout.qeAuthenticationDataLengthOffset + 2
    return [
        0..<layout.signedLength,
        layout.isvSignatureOffset..<layout.isvSignatureOffset + 64,
        layout.attestationKeyOffset..<layout.attestationKeyOffset + 64,
        layout.qeReportOffset..<layout.qeReportOffset + 384,
        layout.qeReportSignatureOffset..<layout.qeReportSignatureOffset + 64,
        authOffset..<authOffset + quote.signatureData.qeAuthenticationData.count,
    ]
}

@Suite(.enabled(if: Corpus.directory != nil, "\(Corpus.missing)"))
struct MutationPropertyTests {
    static let baseCases = [
        "sgx-v3-dcapqvl-sgx_quote-f8b81014",
        "tdx-v4-dcapqvl-tdx_quote-c42f9164",
        "tdx-v5-pypi-dcapqvl-tdx_quote_td15ex-fd88575b",
        "tdx-v5-gotdxguest-quote_v5_sample-cf77a6e9",
    ]
    static let mutationsPerCase = 2600

    enum CollateralField: CaseIterable {
        case tcbInfo, tcbInfoSignature, qeIdentity, qeIdentitySignature, rootCACRL, pckCRL, tcbInfoIssuerChain, qeIdentityIssuerChain

        /// Chains are PEM text whose framing (labels, whitespace) is not signed: they are mutated for robustness only.
        var isSigned: Bool { self != .tcbInfoIssuerChain && self != .qeIdentityIssuerChain }

        func bytes(_ collateral: Collateral) -> [UInt8] {
            switch self {
            case .tcbInfo: collateral.tcbInfo
            case .tcbInfoSignature: collateral.tcbInfoSignature
            case .qeIdentity: collateral.qeIdentity
            case .qeIdentitySignature: collateral.qeIdentitySignature
            case .rootCACRL: collateral.rootCACRL
            case .pckCRL: collateral.pckCRL
            case .tcbInfoIssuerChain: Array(collateral.tcbInfoIssuerChain.utf8)
            case .qeIdentityIssuerChain: Array(collateral.qeIdentityIssuerChain.utf8)
            }
        }

        func replaced(in collateral: Collateral, with bytes: [UInt8]) -> Collateral {
            var copy = collateral
            switch self {
            case .tcbInfo: copy.tcbInfo = bytes
            case .tcbInfoSignature: copy.tcbInfoSignature = bytes
            case .qeIdentity: copy.qeIdentity = bytes
            case .qeIdentitySignature: copy.qeIdentitySignature = bytes
            case .rootCACRL: copy.rootCACRL = bytes
            case .pckCRL: copy.pckCRL = bytes
            case .tcbInfoIssuerChain: copy.tcbInfoIssuerChain = String(decoding: bytes, as: UTF8.self)
            case .qeIdentityIssuerChain: copy.qeIdentityIssuerChain = String(decoding: bytes, as: UTF8.self)
            }
            return copy
        }
    }

    @Test(arguments: Array(baseCases.enumerated()))
    func mutationsNeverCrashAndNeverPassInsideSignedBytes(index: Int, caseID: String) throws {
        let corpus = try #require(Corpus.shared)
        let base = try #require(corpus.cases.first { $0.id == caseID })
        let verifier = CachingQuoteVerifier()
        _ = try verifier.verify(quoteBytes: base.quote, collateral: base.collateral, at: base.instant)
        let quote = try Quote(bytes: base.quote)
        let protected = protectedRanges(quote)
        let signatureDataEnd = quote.layout.signedLength + 4 + quote.layout.signatureDataLength
        var generator = SeededGenerator(seed: 0x5EED_0000 + UInt64(index))
        var accepted = 0
        var rejected = 0

        func accepts(_ bytes: [UInt8], _ collateral: Collateral) -> Bool {
            do {
                _ = try verifier.verify(quoteBytes: bytes, collateral: collateral, at: base.instant)
                return true
            } catch {
                #expect(!error.description.isEmpty)
                return false
            }
        }

        for _ in 0..<Self.mutationsPerCase {
            let kind = Int.random(in: 0..<10, using: &generator)
            switch kind {
            case 0..<5:
                var bytes = base.quote
                let offset = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[offset] ^= UInt8.random(in: 1...255, using: &generator)
                let passed = accepts(bytes, base.collateral)
                #expect(!(passed && protected.contains { $0.contains(offset) }), "\(caseID): flipping quote byte \(offset) was accepted")
                if passed { accepted += 1 } else { rejected += 1 }
            case 5..<7:
                let length = Int.random(in: 0..<base.quote.count, using: &generator)
                let passed = accepts(Array(base.quote.prefix(length)), base.collateral)
                #expect(!(passed && length < signatureDataEnd), "\(caseID): truncation to \(length) bytes was accepted")
                if passed { accepted += 1 } else { rejected += 1 }
            default:
                let field = CollateralField.allCases.randomElement(using: &generator)!
                var bytes = field.bytes(base.collateral)
                guard !bytes.isEmpty else { continue }
                if Bool.random(using: &generator) {
                    let offset = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[offset] ^= UInt8.random(in: 1...255, using: &generator)
                } else {
                    bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
                }
                let passed = accepts(base.quote, field.replaced(in: base.collateral, with: bytes))
                #expect(!(passed && field.isSigned), "\(caseID): a mutated \(field) was accepted")
                if passed { accepted += 1 } else { rejected += 1 }
            }
        }
        #expect(accepted + rejected >= Self.mutationsPerCase * 9 / 10)
        #expect(rejected > accepted)
    }
}
