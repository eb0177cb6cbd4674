import Attestation
import Foundation
import FuzzSupport

// The first byte chooses what the rest replaces in one real SGX quote and its Intel collateral from ../shared: the
// quote itself, the TCB info or QE identity JSON, a CRL, a PEM chain, or the whole collateral JSON file. Everything
// then goes through the production verifier, which must refuse or accept, never trap or hang.

let caseDirectory = "corpus/dcap/corpus/sgx-v3-dcapqvl-sgx_quote-f8b81014"
let quoteBytes = SharedCorpus.read(caseDirectory + "/quote.bin")
let collateralJSON = SharedCorpus.read(caseDirectory + "/collateral.json")
let baseCollateral: Collateral = {
    guard let collateral = try? JSONDecoder().decode(Collateral.self, from: Data(collateralJSON)) else {
        FileHandle.standardError.write(Data("the corpus collateral of \(caseDirectory) does not decode\n".utf8))
        exit(2)
    }
    return collateral
}()
// Inside the corpus case's validity window, so that verification reaches every check.
let instant = Date(timeIntervalSince1970: 1_751_624_190)
let verifier = QuoteVerifier()

func verify(_ quote: [UInt8], _ collateral: Collateral) {
    _ = try? verifier.verify(quoteBytes: quote, collateral: collateral, at: instant)
}

let seeds: [[UInt8]] = [
    [0] + quoteBytes, [1] + baseCollateral.tcbInfo, [2] + baseCollateral.qeIdentity, [3] + baseCollateral.pckCRL,
    [4] + baseCollateral.rootCACRL, [5] + Array(baseCollateral.tcbInfoIssuerChain.utf8), [6] + collateralJSON,
]

runFuzzer(seeds: seeds) { data, size in
    guard size > 0, let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let rest = Array(bytes.dropFirst())
    var collateral = baseCollateral
    switch bytes[0] % 7 {
    case 0:
        if let quote = try? Quote(bytes: rest) { _ = (quote.header, quote.signatureData) }
        verify(rest, baseCollateral)
        return 0
    case 1: collateral.tcbInfo = rest
    case 2: collateral.qeIdentity = rest
    case 3: collateral.pckCRL = rest
    case 4: collateral.rootCACRL = rest
    case 5: collateral.tcbInfoIssuerChain = String(decoding: rest, as: UTF8.self)
    default:
        guard let decoded = try? JSONDecoder().decode(Collateral.self, from: Data(rest)) else { return 0 }
        collateral = decoded
    }
    verify(quoteBytes, collateral)
    return 0
}
