import Attestation
import StrictJSON

/// A PCS v4 JSON response that carries a signed object and its signature, e.g.
/// `{"tcbInfo":{...},"signature":"<hex r||s>"}` or `{"enclaveIdentity":{...},"signature":"..."}`.
///
/// Intel signs the exact bytes of the inner object as they appear in the response, so the object is cut out of the
/// body by its byte range and never parsed and re-serialized (Intel PCS API v4, "TCB Info" and "Enclave Identity"
/// responses; dcap-qvl 0.7.0 `QuoteCollateralV3.tcb_info`).
struct SignedJSONResponse: Equatable {
    /// The exact bytes of the signed object's value.
    let signedBytes: [UInt8]
    /// The decoded `signature` value (raw r||s).
    let signature: [UInt8]

    struct Malformed: Error, Equatable {
        let reason: String
    }

    /// Splits `body`, whose top-level object must hold `signedKey` (an object) and `signature` (hexadecimal).
    init(body: [UInt8], signedKey: String) throws(Malformed) {
        let members: [JSONRangedMember]
        do {
            members = try JSONParser.parseObjectMembers(body, maximumDepth: 64)
        } catch {
            throw Malformed(reason: "\(error.message) at byte \(error.offset) of \(body.count)")
        }
        guard let signed = members.last(where: { $0.key == signedKey }) else {
            throw Malformed(reason: "no '\(signedKey)' member (members found: \(Self.list(members)))")
        }
        guard case .object = signed.value else {
            throw Malformed(reason: "'\(signedKey)' is not a JSON object")
        }
        guard let signatureMember = members.last(where: { $0.key == "signature" }) else {
            throw Malformed(reason: "no 'signature' member (members found: \(Self.list(members)))")
        }
        guard case .string(let signatureText) = signatureMember.value, let signature = [UInt8](hexadecimal: signatureText) else {
            throw Malformed(reason: "'signature' is not a hexadecimal string")
        }
        guard signature.count == 64 else {
            throw Malformed(reason: "'signature' is \(signature.count) bytes, expected 64 (ECDSA P-256 r||s)")
        }
        signedBytes = Array(body[signed.valueRange])
        self.signature = signature
    }

    private static func list(_ members: [JSONRangedMember]) -> String {
        let sorted = Set(members.map(\.key)).sorted()
        return sorted.isEmpty ? "none" : sorted.joined(separator: ", ")
    }
}
