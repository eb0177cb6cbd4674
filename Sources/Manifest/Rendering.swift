import Hexadecimal

/// A secret's value as the Coordinator holds it: DER certificate, PKIX public key and PKCS#8 private key for
/// certificates; for symmetric keys and plain secrets `publicKey` and `privateKey` both hold the bytes.
public struct SecretValue: Sendable, Hashable {
    /// nil for the reserved `.MarbleRun` values, which are not manifest secrets.
    public var type: SecretType?
    public var certificate: [UInt8]
    public var publicKey: [UInt8]
    public var privateKey: [UInt8]

    public init(type: SecretType?, certificate: [UInt8] = [], publicKey: [UInt8] = [], privateKey: [UInt8] = []) {
        self.type = type
        self.certificate = certificate
        self.publicKey = publicKey
        self.privateKey = privateKey
    }

    /// A symmetric key or plain secret: the same bytes serve as public and private value.
    public static func key(_ bytes: [UInt8], type: SecretType) -> SecretValue {
        SecretValue(type: type, publicKey: bytes, privateKey: bytes)
    }

    func bytes(of part: SecretPart?) -> [UInt8] {
        switch part {
        case .certificate: certificate
        case .publicKey, nil: publicKey
        case .privateKey: privateKey
        }
    }
}

/// Everything a marble's parameters may refer to at activation.
public struct RenderingInput: Sendable {
    public var secrets: [String: SecretValue]
    /// Values before the last regeneration; the Coordinator keeps one for every current secret.
    public var previousSecrets: [String: SecretValue]
    /// This marble's certificate (DER), public key (PKIX DER) and private key (PKCS#8 DER).
    public var marbleCertificate: SecretValue
    /// DER of the Marble root certificate (`.MarbleRun.RootCA`).
    public var marbleRootCertificate: [UInt8]
    public var coordinatorRootCertificate: [UInt8]
    public var coordinatorIntermediateCertificate: [UInt8]

    public init(
        secrets: [String: SecretValue], previousSecrets: [String: SecretValue], marbleCertificate: SecretValue,
        marbleRootCertificate: [UInt8], coordinatorRootCertificate: [UInt8], coordinatorIntermediateCertificate: [UInt8]
    ) {
        self.secrets = secrets
        self.previousSecrets = previousSecrets
        self.marbleCertificate = marbleCertificate
        self.marbleRootCertificate = marbleRootCertificate
        self.coordinatorRootCertificate = coordinatorRootCertificate
        self.coordinatorIntermediateCertificate = coordinatorIntermediateCertificate
    }

    func value(of operand: TemplateOperand) throws(TemplateError) -> SecretValue {
        switch operand {
        case .secret(let name, _):
            guard let value = secrets[name] else {
                throw TemplateError(
                    message: "\(operand) refers to a secret that is not defined",
                    hint: "define \"\(name)\" in Secrets or fix the name (names are case-sensitive)")
            }
            return value
        case .previousSecret(let name, _):
            guard let value = previousSecrets[name] else {
                throw TemplateError(
                    message: "\(operand) refers to a secret that is not defined",
                    hint: "define \"\(name)\" in Secrets or fix the name (names are case-sensitive)")
            }
            return value
        case .reserved(let reserved, _):
            switch reserved {
            case .marbleCertificate: return marbleCertificate
            case .rootCA: return SecretValue(type: nil, certificate: marbleRootCertificate)
            case .coordinatorRoot: return SecretValue(type: nil, certificate: coordinatorRootCertificate)
            case .coordinatorIntermediate: return SecretValue(type: nil, certificate: coordinatorIntermediateCertificate)
            }
        }
    }
}

/// A marble's parameters after templates were applied: what the Coordinator sends at activation.
public struct RenderedParameters: Sendable, Hashable {
    public var files: [String: [UInt8]]
    public var env: [String: [UInt8]]
    /// As written in the manifest; an empty list means the launcher's default (`./marble` in MarbleRun's premain).
    public var argv: [String]
}

/// A template that could not be applied, and where it is.
public struct RenderingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String
    public let hint: String

    public var description: String { "\(path): \(message); \(hint)" }
}

extension Template {
    /// Applies the template to `input`; pure.
    public func render(_ input: RenderingInput) throws(TemplateError) -> [UInt8] {
        var output: [UInt8] = []
        for segment in segments {
            switch segment {
            case .text(let bytes):
                output += bytes
            case .action(let function, let operand):
                output += try Self.apply(function, to: operand, input: input)
            }
        }
        return output
    }

    static func apply(_ function: TemplateFunction, to operand: TemplateOperand, input: RenderingInput) throws(TemplateError) -> [UInt8] {
        let value = try input.value(of: operand)
        let part = operand.part
        switch function {
        case .string:
            guard part == nil else {
                throw TemplateError(
                    message: "string takes a plain secret itself, not \(operand)", hint: "write {{ string .Secrets.NAME }} for a secret of Type plain"
                )
            }
            guard value.type == .plain else {
                throw TemplateError(
                    message: "string only encodes secrets of Type plain, and \(operand) is \(value.type?.rawValue ?? "not a manifest secret")",
                    hint: "use base64 or hex for keys and certificates")
            }
            let bytes = value.publicKey
            guard !bytes.isEmpty else { throw emptyValue(operand) }
            guard !bytes.contains(0) else {
                throw TemplateError(
                    message: "\(operand) contains NUL bytes, which an environment variable cannot hold", hint: "use base64 or hex to encode it")
            }
            return bytes
        case .pem:
            guard let part else {
                throw TemplateError(
                    message: "pem needs .Cert, .Public or .Private, not the bare secret \(operand)",
                    hint: "write {{ pem \(operand).Cert }} (or .Public / .Private)")
            }
            let bytes = value.bytes(of: part)
            guard !bytes.isEmpty else { throw emptyValue(operand) }
            let label =
                switch part {
                case .certificate: "CERTIFICATE"
                case .publicKey: "PUBLIC KEY"
                case .privateKey: "PRIVATE KEY"
                }
            return PEM.encode(bytes, label: label)
        case .raw, .hex, .base64:
            let bytes = value.bytes(of: part)
            guard !bytes.isEmpty else { throw emptyValue(operand) }
            switch function {
            case .hex: return Array(bytes.hexadecimal.utf8)
            case .base64: return Array(Base64.encodeStandard(bytes).utf8)
            default: return bytes
            }
        }
    }

    private static func emptyValue(_ operand: TemplateOperand) -> TemplateError {
        switch operand {
        case .reserved(let reserved, let part) where reserved != .marbleCertificate:
            return TemplateError(
                message: "\(operand) is empty: .MarbleRun.\(reserved.rawValue) only has a certificate",
                hint: part == .certificate ? "check that the Coordinator provides it" : "write .MarbleRun.\(reserved.rawValue).Cert")
        case .secret(_, .certificate), .previousSecret(_, .certificate):
            return TemplateError(
                message: "\(operand) is empty: only cert-* secrets have a certificate",
                hint: "use the secret itself or .Private for symmetric keys and plain secrets")
        default:
            return TemplateError(message: "\(operand) has no value", hint: "make sure the secret is generated or uploaded before the marble starts")
        }
    }
}

/// PEM as Go's `pem.EncodeToMemory` writes it: 64-character lines and a final newline.
enum PEM {
    static func encode(_ der: [UInt8], label: String) -> [UInt8] {
        let body = Base64.encodeStandard(der)
        var text = "-----BEGIN \(label)-----\n"
        var start = body.startIndex
        while start < body.endIndex {
            let end = body.index(start, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            text += body[start..<end] + "\n"
            start = end
        }
        text += "-----END \(label)-----\n"
        return Array(text.utf8)
    }
}
