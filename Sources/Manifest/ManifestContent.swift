import Foundation

/// The decoded sections of a manifest, with MarbleRun's field semantics (Go zero values where a field is absent).
public struct ManifestContent: Sendable, Hashable {
    public var packages: [String: Package] = [:]
    public var infrastructures: [String: Infrastructure] = [:]
    public var marbles: [String: Marble] = [:]
    public var users: [String: User] = [:]
    public var secrets: [String: SecretDefinition] = [:]
    /// Name to PEM `PUBLIC KEY` (RSA).
    public var recoveryKeys: [String: String] = [:]
    public var roles: [String: Role] = [:]
    public var tls: [String: TLSTag] = [:]
    public var config = Config()

    public init() {}

    /// MarbleRun's `IsUpdateManifest`: nothing but `Packages` (and `Config`, which such an update ignores) is set.
    public var isPackageUpdate: Bool {
        infrastructures.isEmpty && marbles.isEmpty && users.isEmpty && recoveryKeys.isEmpty && roles.isEmpty && secrets.isEmpty
            && tls.isEmpty
    }
}

/// `Packages.<name>`: which enclaves may run.
public struct Package: Sendable, Hashable {
    public var debug = false
    /// MRENCLAVE as hex; compared case-insensitively.
    public var uniqueID = ""
    /// MRSIGNER as hex.
    public var signerID = ""
    public var productID: UInt64?
    /// The minimum ISVSVN.
    public var securityVersion: UInt64?
    public var acceptedTCBStatuses: [String] = []
    public var acceptedAdvisories: [String] = []

    public init() {}
}

/// `Infrastructures.<name>`: accepted, stored, and (as in MarbleRun) not enforced.
public struct Infrastructure: Sendable, Hashable {
    public var cpuSVN: [UInt8] = []
    public var qeSVN: UInt16?
    public var pceSVN: UInt16?
    public var rootCA: [UInt8] = []

    public init() {}
}

/// `Marbles.<type>`: one kind of service.
public struct Marble: Sendable, Hashable {
    public var package = ""
    /// 0 means unlimited.
    public var maxActivations: UInt64 = 0
    public var parameters = Parameters()
    public var tlsTags: [String] = []
    public var disableSecretBinding = false

    public init() {}
}

public struct Parameters: Sendable, Hashable {
    public var files: [String: FileValue] = [:]
    public var env: [String: FileValue] = [:]
    public var argv: [String] = []

    public init() {}
}

/// A `Files` or `Env` entry: a plain string, or `{Data, Encoding, NoTemplates}` with `Data` already decoded.
public struct FileValue: Sendable, Hashable {
    public enum Encoding: String, Sendable, Hashable {
        case string, base64, hex
    }

    /// The bytes after `Encoding` was undone; templates are applied to these.
    public var data: [UInt8]
    public var encoding: Encoding
    public var noTemplates: Bool

    public init(data: [UInt8], encoding: Encoding = .string, noTemplates: Bool = false) {
        self.data = data
        self.encoding = encoding
        self.noTemplates = noTemplates
    }
}

public enum SecretType: String, Sendable, Hashable, CaseIterable {
    case symmetricKey = "symmetric-key"
    case certRSA = "cert-rsa"
    case certECDSA = "cert-ecdsa"
    case certED25519 = "cert-ed25519"
    case plain

    public var isCertificate: Bool { self == .certRSA || self == .certECDSA || self == .certED25519 }
}

/// `Secrets.<name>` as written in the manifest.
public struct SecretDefinition: Sendable, Hashable {
    /// The `Type` text as written; `type` is nil when it is not one MarbleRun knows.
    public var typeName = ""
    public var type: SecretType? { SecretType(rawValue: typeName) }
    /// Bits.
    public var size: UInt64 = 0
    public var shared = false
    public var userDefined = false
    /// Days; 0 means the default of 365 unless `certificate.notAfter` is set.
    public var validFor: UInt64 = 0
    public var certificate = CertificateTemplate()

    public init() {}

    /// A per-marble secret: generated for each marble instance (MarbleRun's "unique" secrets).
    public var isPerMarble: Bool { !shared && !userDefined }
}

/// The subset of Go's `x509.Certificate` JSON that MarbleRun users put in `Secrets.<name>.Cert`.
public struct CertificateTemplate: Sendable, Hashable {
    public var subject = SubjectTemplate()
    /// nil means absent (MarbleRun then uses `["localhost"]`); empty means explicitly none.
    public var dnsNames: [String]?
    public var ipAddresses: [String]?
    public var emailAddresses: [String]?
    /// Go `x509.KeyUsage` bits; 0 means MarbleRun's default (DigitalSignature | CertSign).
    public var keyUsage: Int = 0
    /// Go `x509.ExtKeyUsage` values; nil means MarbleRun's default (ServerAuth, ClientAuth).
    public var extendedKeyUsage: [Int]?
    public var notAfter: Date?
    public var isCA = false
    public var maxPathLength: Int?

    public init() {}
}

/// Go's `pkix.Name` string fields.
public struct SubjectTemplate: Sendable, Hashable {
    public var commonName = ""
    public var serialNumber = ""
    public var country: [String] = []
    public var organization: [String] = []
    public var organizationalUnit: [String] = []
    public var locality: [String] = []
    public var province: [String] = []
    public var streetAddress: [String] = []
    public var postalCode: [String] = []

    public init() {}
}

/// `Users.<name>`.
public struct User: Sendable, Hashable {
    /// PEM, as written.
    public var certificate = ""
    public var roles: [String] = []

    public init() {}
}

/// `Roles.<name>`.
public struct Role: Sendable, Hashable {
    public var resourceType = ""
    public var resourceNames: [String] = []
    public var actions: [String] = []

    public init() {}
}

/// `TLS.<tag>` for transparent TLS.
public struct TLSTag: Sendable, Hashable {
    public var outgoing: [TLSEntry] = []
    public var incoming: [TLSEntry] = []

    public init() {}
}

public struct TLSEntry: Sendable, Hashable {
    public var port = ""
    public var address = ""
    /// A secret name, or empty.
    public var certificate = ""
    public var disableClientAuthentication = false

    public init() {}
}

/// `Config`.
public struct Config: Sendable, Hashable {
    public var sealMode = ""
    public var featureGates: [String] = []
    public var updateThreshold: UInt64 = 0
    public var recoveryThreshold: UInt64 = 0
    public var rotateRootSecret = false

    public init() {}

    public func hasFeature(_ name: String) -> Bool {
        featureGates.contains { $0.caseInsensitiveCompare(name) == .orderedSame }
    }
}
