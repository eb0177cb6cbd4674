/// Everything that can go wrong in the Coordinator PKI. Each case names what failed, what was seen versus expected,
/// and what to do about it.
public enum PKIError: Error, Equatable, CustomStringConvertible {
    case malformedKey(what: String, detail: String, hint: String)
    case malformedCertificate(what: String, detail: String, hint: String)
    case malformedCSR(detail: String, hint: String)
    case invalidCSRSignature(subject: String, algorithm: String)
    case unsupportedSecretKey(requested: String, supported: String)
    case invalidTemplate(field: String, found: String, expected: String)
    case invalidMarbleIdentity(field: String, found: String, expected: String)
    case signingFailed(what: String, underlying: String)
    case malformedSnapshot(detail: String, hint: String)

    public var description: String {
        switch self {
        case .malformedKey(let what, let detail, let hint):
            "cannot read \(what): \(detail); \(hint)"
        case .malformedCertificate(let what, let detail, let hint):
            "cannot read \(what): \(detail); \(hint)"
        case .malformedCSR(let detail, let hint):
            "cannot parse certificate signing request: \(detail); \(hint)"
        case .invalidCSRSignature(let subject, let algorithm):
            "certificate signing request for '\(subject)' has a signature (\(algorithm)) that does not verify with "
                + "its own public key; the CSR was altered or signed with another key: create it again with the "
                + "marble's key"
        case .unsupportedSecretKey(let requested, let supported):
            "cannot create a secret key of type \(requested): supported are \(supported); change the secret's Type "
                + "or Size in the manifest"
        case .invalidTemplate(let field, let found, let expected):
            "invalid certificate template field \(field): found \(found), expected \(expected); fix the secret's "
                + "Cert template in the manifest"
        case .invalidMarbleIdentity(let field, let found, let expected):
            "invalid marble identity \(field): found \(found), expected \(expected); the marble must send its UUID "
                + "and type as the manifest defines them"
        case .signingFailed(let what, let underlying):
            "signing failed for \(what): \(underlying); the key may be corrupt, restore it from sealed state"
        case .malformedSnapshot(let detail, let hint):
            "cannot restore Coordinator PKI from its snapshot: \(detail); \(hint)"
        }
    }
}
