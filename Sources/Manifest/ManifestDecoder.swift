import Foundation
import Hexadecimal
import StrictJSON
import X509

/// Decodes a JSON tree into `ManifestContent` with the semantics of Go's `encoding/json` on MarbleRun's structs:
/// field names match case-insensitively, unknown fields are ignored (Cloister warns, and suggests the likely field),
/// `null` means absent, numbers must be integer literals in range. Unlike Go, it does not stop at the first type error:
/// every fault is recorded, and checks that depend on a field that failed to decode are suppressed later.
struct ManifestDecoder {
    private(set) var findings: [Finding] = []
    /// Fields whose value could not be decoded; findings inside them would only repeat the first fault.
    private(set) var failedPaths: [JSONPath] = []

    static func decode(_ root: JSONValue) -> (ManifestContent, [Finding], [JSONPath]) {
        var decoder = ManifestDecoder()
        let content = decoder.manifest(root)
        return (content, decoder.findings, decoder.failedPaths)
    }

    // MARK: Sections

    private mutating func manifest(_ value: JSONValue) -> ManifestContent {
        var content = ManifestContent()
        let fields = structFields(
            value, at: .root, typeName: "manifest",
            fields: ["Packages", "Infrastructures", "Marbles", "Users", "Secrets", "RecoveryKeys", "Roles", "TLS", "Config"])
        if let (packages, path) = fields["Packages"] {
            for (name, entry, entryPath) in map(packages, at: path) { content.packages[name] = package(entry, at: entryPath) }
        }
        if let (infrastructures, path) = fields["Infrastructures"] {
            for (name, entry, entryPath) in map(infrastructures, at: path) {
                content.infrastructures[name] = infrastructure(entry, at: entryPath)
            }
        }
        if let (marbles, path) = fields["Marbles"] {
            for (name, entry, entryPath) in map(marbles, at: path) { content.marbles[name] = marble(entry, at: entryPath) }
        }
        if let (users, path) = fields["Users"] {
            for (name, entry, entryPath) in map(users, at: path) { content.users[name] = user(entry, at: entryPath) }
        }
        if let (secrets, path) = fields["Secrets"] {
            for (name, entry, entryPath) in map(secrets, at: path) { content.secrets[name] = secret(entry, at: entryPath) }
        }
        if let (keys, path) = fields["RecoveryKeys"] {
            for (name, entry, entryPath) in map(keys, at: path) { content.recoveryKeys[name] = string(entry, at: entryPath) ?? "" }
        }
        if let (roles, path) = fields["Roles"] {
            for (name, entry, entryPath) in map(roles, at: path) { content.roles[name] = role(entry, at: entryPath) }
        }
        if let (tags, path) = fields["TLS"] {
            for (name, entry, entryPath) in map(tags, at: path) { content.tls[name] = tlsTag(entry, at: entryPath) }
        }
        if let (config, path) = fields["Config"] {
            content.config = self.config(config, at: path)
        }
        return content
    }

    private mutating func package(_ value: JSONValue, at path: JSONPath) -> Package {
        var result = Package()
        let fields = structFields(
            value, at: path, typeName: "package",
            fields: ["Debug", "UniqueID", "SignerID", "ProductID", "SecurityVersion", "AcceptedTCBStatuses", "AcceptedAdvisories"])
        if let (field, fieldPath) = fields["Debug"] { result.debug = bool(field, at: fieldPath) ?? false }
        if let (field, fieldPath) = fields["UniqueID"] { result.uniqueID = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["SignerID"] { result.signerID = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["ProductID"] { result.productID = unsigned(field, at: fieldPath, maximum: .max) }
        if let (field, fieldPath) = fields["SecurityVersion"] { result.securityVersion = unsigned(field, at: fieldPath, maximum: .max) }
        if let (field, fieldPath) = fields["AcceptedTCBStatuses"] { result.acceptedTCBStatuses = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["AcceptedAdvisories"] { result.acceptedAdvisories = strings(field, at: fieldPath) }
        return result
    }

    private mutating func infrastructure(_ value: JSONValue, at path: JSONPath) -> Infrastructure {
        var result = Infrastructure()
        let fields = structFields(value, at: path, typeName: "infrastructure", fields: ["CPUSVN", "QESVN", "PCESVN", "RootCA"])
        if let (field, fieldPath) = fields["CPUSVN"] { result.cpuSVN = bytes(field, at: fieldPath) }
        if let (field, fieldPath) = fields["QESVN"] { result.qeSVN = unsigned(field, at: fieldPath, maximum: UInt64(UInt16.max)).map { UInt16($0) } }
        if let (field, fieldPath) = fields["PCESVN"] {
            result.pceSVN = unsigned(field, at: fieldPath, maximum: UInt64(UInt16.max)).map { UInt16($0) }
        }
        if let (field, fieldPath) = fields["RootCA"] { result.rootCA = bytes(field, at: fieldPath) }
        return result
    }

    private mutating func marble(_ value: JSONValue, at path: JSONPath) -> Marble {
        var result = Marble()
        let fields = structFields(
            value, at: path, typeName: "marble", fields: ["Package", "MaxActivations", "Parameters", "TLS", "DisableSecretBinding"])
        if let (field, fieldPath) = fields["Package"] { result.package = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["MaxActivations"] { result.maxActivations = unsigned(field, at: fieldPath, maximum: .max) ?? 0 }
        if let (field, fieldPath) = fields["TLS"] { result.tlsTags = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["DisableSecretBinding"] { result.disableSecretBinding = bool(field, at: fieldPath) ?? false }
        if let (field, fieldPath) = fields["Parameters"] {
            let parameterFields = structFields(field, at: fieldPath, typeName: "parameters", fields: ["Files", "Env", "Argv"])
            if let (files, filesPath) = parameterFields["Files"] {
                for (name, entry, entryPath) in map(files, at: filesPath) {
                    if let file = fileValue(entry, at: entryPath) { result.parameters.files[name] = file }
                }
            }
            if let (env, envPath) = parameterFields["Env"] {
                for (name, entry, entryPath) in map(env, at: envPath) {
                    if let file = fileValue(entry, at: entryPath) { result.parameters.env[name] = file }
                }
            }
            if let (argv, argvPath) = parameterFields["Argv"] { result.parameters.argv = strings(argv, at: argvPath) }
        }
        return result
    }

    /// MarbleRun's `File.UnmarshalJSON`: a string, or an object whose `Data` is decoded according to `Encoding`.
    private mutating func fileValue(_ value: JSONValue, at path: JSONPath) -> FileValue? {
        switch value {
        case .string(let text):
            return FileValue(data: Array(text.utf8))
        case .object:
            let fields = structFields(value, at: path, typeName: "file", fields: ["Data", "Encoding", "NoTemplates"])
            let data = fields["Data"].flatMap { string($0.0, at: $0.1) } ?? ""
            let encodingText = fields["Encoding"].flatMap { string($0.0, at: $0.1) } ?? ""
            let noTemplates = fields["NoTemplates"].flatMap { bool($0.0, at: $0.1) } ?? false
            let encodingPath = path / "Encoding"
            guard let encoding = encodingText.isEmpty ? .string : FileValue.Encoding(rawValue: encodingText.lowercased()) else {
                fail(encodingPath, "unknown encoding \"\(encodingText)\"", hint: "use \"string\" (the default), \"base64\" or \"hex\"")
                return nil
            }
            switch encoding {
            case .string:
                return FileValue(data: Array(data.utf8), encoding: encoding, noTemplates: noTemplates)
            case .base64:
                guard let decoded = Base64.decodeStandard(data) else {
                    fail(
                        path / "Data", "Data is not valid standard base64 (Encoding is base64)",
                        hint: "encode with padding, e.g. `base64 -w0 FILE`, or set Encoding to \"string\"")
                    return nil
                }
                return FileValue(data: decoded, encoding: encoding, noTemplates: noTemplates)
            case .hex:
                guard let decoded = [UInt8](hexadecimal: data) else {
                    fail(
                        path / "Data", "Data is not valid hex (Encoding is hex)",
                        hint: "write an even number of hex digits, or set Encoding to \"string\"")
                    return nil
                }
                return FileValue(data: decoded, encoding: encoding, noTemplates: noTemplates)
            }
        default:
            fail(
                path, "expected a string or an object {Data, Encoding, NoTemplates}, found \(value.kindDescription)",
                hint: "write the content as a JSON string")
            return nil
        }
    }

    private mutating func secret(_ value: JSONValue, at path: JSONPath) -> SecretDefinition {
        var result = SecretDefinition()
        let fields = structFields(
            value, at: path, typeName: "secret",
            fields: ["Type", "Size", "Shared", "UserDefined", "Cert", "ValidFor", "Private", "Public"])
        if let (field, fieldPath) = fields["Type"] { result.typeName = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["Size"] { result.size = unsigned(field, at: fieldPath, maximum: .max) ?? 0 }
        if let (field, fieldPath) = fields["Shared"] { result.shared = bool(field, at: fieldPath) ?? false }
        if let (field, fieldPath) = fields["UserDefined"] { result.userDefined = bool(field, at: fieldPath) ?? false }
        if let (field, fieldPath) = fields["ValidFor"] { result.validFor = unsigned(field, at: fieldPath, maximum: .max) ?? 0 }
        if let (field, fieldPath) = fields["Cert"] { result.certificate = certificateTemplate(field, at: fieldPath) }
        for name in ["Private", "Public"] {
            if let (field, fieldPath) = fields[name], field != .null {
                _ = bytes(field, at: fieldPath)
                warn(
                    fieldPath, "\(name) is ignored in a manifest",
                    hint: "remove it; the Coordinator generates the value, or users upload it with `secret set`")
            }
        }
        return result
    }

    private mutating func certificateTemplate(_ value: JSONValue, at path: JSONPath) -> CertificateTemplate {
        var result = CertificateTemplate()
        if case .string(let text) = value {
            // MarbleRun's Certificate.UnmarshalJSON reads a string as base64 DER and ignores it if it is not base64.
            guard let der = Base64.decodeStandard(text) else {
                warn(
                    path, "a string that is not base64 is ignored as certificate template",
                    hint: "write Cert as an object such as {\"Subject\": {\"CommonName\": \"name\"}}")
                return result
            }
            do {
                _ = try Certificate(derEncoded: der)
                warn(
                    path, "a DER certificate as template is accepted but Cloister does not copy its fields",
                    hint: "write Cert as an object such as {\"Subject\": {\"CommonName\": \"name\"}}")
            } catch {
                fail(
                    path, "the base64 text is not a DER certificate (\(error))",
                    hint: "write Cert as an object such as {\"Subject\": {\"CommonName\": \"name\"}}")
            }
            return result
        }
        let overwritten = ["NotBefore", "SerialNumber", "BasicConstraintsValid"]
        let unapplied = [
            "Raw", "RawTBSCertificate", "RawSubjectPublicKeyInfo", "RawSubject", "RawIssuer", "Signature", "SignatureAlgorithm",
            "PublicKeyAlgorithm", "PublicKey", "Version", "Issuer", "Extensions", "ExtraExtensions", "UnhandledCriticalExtensions",
            "UnknownExtKeyUsage", "MaxPathLenZero", "SubjectKeyId", "AuthorityKeyId", "OCSPServer", "IssuingCertificateURL", "URIs",
            "PermittedDNSDomainsCritical", "PermittedDNSDomains", "ExcludedDNSDomains", "PermittedIPRanges", "ExcludedIPRanges",
            "PermittedEmailAddresses", "ExcludedEmailAddresses", "PermittedURIDomains", "ExcludedURIDomains", "CRLDistributionPoints",
            "PolicyIdentifiers", "Policies", "InhibitAnyPolicy", "InhibitAnyPolicyZero", "InhibitPolicyMapping",
            "InhibitPolicyMappingZero", "RequireExplicitPolicy", "RequireExplicitPolicyZero", "PolicyMappings",
        ]
        let applied = ["Subject", "DNSNames", "IPAddresses", "EmailAddresses", "KeyUsage", "ExtKeyUsage", "NotAfter", "IsCA", "MaxPathLen"]
        let fields = structFields(value, at: path, typeName: "certificate template", fields: applied + overwritten + unapplied)
        // MarbleRun's documentation lists every field with its Go zero value; only a set value means something.
        for name in overwritten where fields[name].map({ !Self.isGoZeroValue($0.0) }) ?? false {
            warn(path / name, "\(name) is replaced when the certificate is generated", hint: "remove it from the template")
        }
        for name in unapplied where fields[name].map({ !Self.isGoZeroValue($0.0) }) ?? false {
            warn(
                path / name, "\(name) is accepted by MarbleRun but Cloister does not apply it to generated certificates",
                hint: "remove it, or check that the generated certificate does not need it")
        }
        if let (field, fieldPath) = fields["Subject"] { result.subject = subjectTemplate(field, at: fieldPath) }
        if let (field, fieldPath) = fields["DNSNames"], field != .null { result.dnsNames = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["EmailAddresses"], field != .null { result.emailAddresses = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["IPAddresses"], field != .null {
            var addresses: [String] = []
            for (position, address) in strings(field, at: fieldPath).enumerated() where !address.isEmpty {
                if IPAddressText.bytes(address) == nil {
                    fail(
                        fieldPath.appending(index: position), "\"\(address)\" is not an IP address",
                        hint: "write an IPv4 (10.0.0.1) or IPv6 (fd00::1) address")
                } else {
                    addresses.append(address)
                }
            }
            result.ipAddresses = addresses
        }
        if let (field, fieldPath) = fields["KeyUsage"] {
            result.keyUsage = Int(signed(field, at: fieldPath) ?? 0)
            if result.keyUsage < 0 || result.keyUsage > 511 {
                warn(
                    fieldPath, "KeyUsage \(result.keyUsage) has bits outside the nine X.509 key usages; they are ignored",
                    hint:
                        "use a sum of 1 DigitalSignature, 2 ContentCommitment, 4 KeyEncipherment, 8 DataEncipherment, 16 KeyAgreement, 32 CertSign, 64 CRLSign, 128 EncipherOnly, 256 DecipherOnly"
                )
                result.keyUsage &= 511
            }
        }
        if let (field, fieldPath) = fields["ExtKeyUsage"], field != .null {
            var usages: [Int] = []
            if case .array(let elements) = field {
                for (position, element) in elements.enumerated() {
                    guard let usage = signed(element, at: fieldPath.appending(index: position)) else { continue }
                    if (0...13).contains(usage) {
                        usages.append(Int(usage))
                    } else {
                        fail(
                            fieldPath.appending(index: position), "unknown extended key usage \(usage)",
                            hint:
                                "use Go's x509.ExtKeyUsage numbers: 1 ServerAuth, 2 ClientAuth, 3 CodeSigning, 4 EmailProtection, 8 TimeStamping, 9 OCSPSigning (0-13)"
                        )
                    }
                }
            } else {
                typeMismatch(field, at: fieldPath, expected: "an array of numbers", example: "[1, 2]")
            }
            result.extendedKeyUsage = usages
        }
        if let (field, fieldPath) = fields["NotAfter"], let text = string(field, at: fieldPath) {
            if let date = RFC3339.date(text) {
                // Go's zero time ("0001-01-01T00:00:00Z", as in MarbleRun's documentation) means "not set".
                result.notAfter = date == RFC3339.goZeroTime ? nil : date
            } else {
                fail(fieldPath, "\"\(text)\" is not an RFC 3339 time", hint: "write e.g. \"2030-01-01T00:00:00Z\", or use ValidFor (days) instead")
            }
        }
        if let (field, fieldPath) = fields["IsCA"] { result.isCA = bool(field, at: fieldPath) ?? false }
        if let (field, fieldPath) = fields["MaxPathLen"], field != .null { result.maxPathLength = signed(field, at: fieldPath).map { Int($0) } }
        return result
    }

    private mutating func subjectTemplate(_ value: JSONValue, at path: JSONPath) -> SubjectTemplate {
        var result = SubjectTemplate()
        let listFields = ["Country", "Organization", "OrganizationalUnit", "Locality", "Province", "StreetAddress", "PostalCode"]
        let fields = structFields(
            value, at: path, typeName: "subject", fields: ["CommonName", "SerialNumber", "Names", "ExtraNames"] + listFields,
            misplaced: ["DNSNames": "Cert.DNSNames", "IPAddresses": "Cert.IPAddresses", "EmailAddresses": "Cert.EmailAddresses"])
        if let (field, fieldPath) = fields["CommonName"] { result.commonName = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["SerialNumber"] { result.serialNumber = string(field, at: fieldPath) ?? "" }
        for name in ["Names", "ExtraNames"] where fields[name].map({ !Self.isGoZeroValue($0.0) }) ?? false {
            warn(
                path / name, "\(name) is accepted by MarbleRun but Cloister does not apply it",
                hint: "use the named Subject fields (CommonName, Organization, ...)")
        }
        for name in listFields {
            guard let (field, fieldPath) = fields[name] else { continue }
            let values = strings(field, at: fieldPath)
            switch name {
            case "Country": result.country = values
            case "Organization": result.organization = values
            case "OrganizationalUnit": result.organizationalUnit = values
            case "Locality": result.locality = values
            case "Province": result.province = values
            case "StreetAddress": result.streetAddress = values
            default: result.postalCode = values
            }
        }
        return result
    }

    private mutating func user(_ value: JSONValue, at path: JSONPath) -> User {
        var result = User()
        let fields = structFields(value, at: path, typeName: "user", fields: ["Certificate", "Roles"], misplaced: ["Cert": "Certificate"])
        if let (field, fieldPath) = fields["Certificate"] { result.certificate = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["Roles"] { result.roles = strings(field, at: fieldPath) }
        return result
    }

    private mutating func role(_ value: JSONValue, at path: JSONPath) -> Role {
        var result = Role()
        let fields = structFields(value, at: path, typeName: "role", fields: ["ResourceType", "ResourceNames", "Actions"])
        if let (field, fieldPath) = fields["ResourceType"] { result.resourceType = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["ResourceNames"] { result.resourceNames = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["Actions"] { result.actions = strings(field, at: fieldPath) }
        return result
    }

    private mutating func tlsTag(_ value: JSONValue, at path: JSONPath) -> TLSTag {
        var result = TLSTag()
        let fields = structFields(value, at: path, typeName: "TLS tag", fields: ["Outgoing", "Incoming"])
        if let (field, fieldPath) = fields["Outgoing"] { result.outgoing = tlsEntries(field, at: fieldPath) }
        if let (field, fieldPath) = fields["Incoming"] { result.incoming = tlsEntries(field, at: fieldPath) }
        return result
    }

    private mutating func tlsEntries(_ value: JSONValue, at path: JSONPath) -> [TLSEntry] {
        guard case .array(let elements) = value else {
            if value != .null {
                typeMismatch(value, at: path, expected: "an array of entries", example: "[{\"Port\": \"8080\", \"Addr\": \"service\"}]")
            }
            return []
        }
        return elements.enumerated().map { position, element in
            let entryPath = path.appending(index: position)
            var entry = TLSEntry()
            let fields = structFields(element, at: entryPath, typeName: "TLS entry", fields: ["Port", "Addr", "Cert", "DisableClientAuth"])
            if let (field, fieldPath) = fields["Port"] { entry.port = string(field, at: fieldPath, numberHint: true) ?? "" }
            if let (field, fieldPath) = fields["Addr"] { entry.address = string(field, at: fieldPath) ?? "" }
            if let (field, fieldPath) = fields["Cert"] { entry.certificate = string(field, at: fieldPath) ?? "" }
            if let (field, fieldPath) = fields["DisableClientAuth"] { entry.disableClientAuthentication = bool(field, at: fieldPath) ?? false }
            return entry
        }
    }

    private mutating func config(_ value: JSONValue, at path: JSONPath) -> Config {
        var result = Config()
        let fields = structFields(
            value, at: path, typeName: "config",
            fields: ["SealMode", "FeatureGates", "UpdateThreshold", "RecoveryThreshold", "RotateRootSecret"])
        if let (field, fieldPath) = fields["SealMode"] { result.sealMode = string(field, at: fieldPath) ?? "" }
        if let (field, fieldPath) = fields["FeatureGates"] { result.featureGates = strings(field, at: fieldPath) }
        if let (field, fieldPath) = fields["UpdateThreshold"] { result.updateThreshold = unsigned(field, at: fieldPath, maximum: .max) ?? 0 }
        if let (field, fieldPath) = fields["RecoveryThreshold"] { result.recoveryThreshold = unsigned(field, at: fieldPath, maximum: .max) ?? 0 }
        if let (field, fieldPath) = fields["RotateRootSecret"] { result.rotateRootSecret = bool(field, at: fieldPath) ?? false }
        return result
    }

    // MARK: Go encoding/json primitives

    /// Matches an object's keys to Go struct fields: an exact match wins, otherwise a case-insensitive one.
    private mutating func structFields(
        _ value: JSONValue, at path: JSONPath, typeName: String, fields: [String], misplaced: [String: String] = [:]
    ) -> [String: (JSONValue, JSONPath)] {
        guard case .object(let members) = value else {
            if value != .null { typeMismatch(value, at: path, expected: "an object (\(typeName))", example: "{ ... }") }
            return [:]
        }
        var result: [String: (JSONValue, JSONPath)] = [:]
        var spelling: [String: String] = [:]
        for member in members {
            let field = fields.first { $0 == member.key } ?? fields.first { Self.fold($0) == Self.fold(member.key) }
            guard let field else {
                unknownKey(member.key, at: path / member.key, typeName: typeName, fields: fields, misplaced: misplaced)
                continue
            }
            let fieldPath = path / field
            if let earlier = spelling[field] {
                fail(
                    fieldPath, "\(field) is given twice (as \"\(earlier)\" and \"\(member.key)\")",
                    hint: "keep one; MarbleRun would silently merge or overwrite them")
                continue
            }
            spelling[field] = member.key
            result[field] = (member.value, fieldPath)
        }
        return result
    }

    /// null, false, 0, "", [] and {}: what a Go field holds when nothing was set.
    static func isGoZeroValue(_ value: JSONValue) -> Bool {
        switch value {
        case .null: true
        case .bool(let flag): !flag
        case .number(let literal): Double(literal) == 0
        case .string(let text): text.isEmpty
        case .array(let elements): elements.isEmpty
        case .object(let members): members.allSatisfy { isGoZeroValue($0.value) }
        }
    }

    /// Go's case folding for field names (`K` also matches the Kelvin sign, `S` the long s).
    static func fold(_ text: String) -> String { text.uppercased().lowercased() }

    private mutating func unknownKey(_ key: String, at path: JSONPath, typeName: String, fields: [String], misplaced: [String: String]) {
        if let target = misplaced.first(where: { Self.fold($0.key) == Self.fold(key) })?.value {
            warn(path, "\(key) is not a field of the \(typeName) and is ignored by MarbleRun", hint: "move it to \(target)")
            return
        }
        let folded = Self.fold(String(key.prefix(64)))
        let suggestion =
            key.utf8.count > 64
            ? nil
            : fields.map { ($0, EditDistance.between(Self.fold($0), folded)) }.filter { $0.1 <= max(1, min(3, $0.0.count / 3)) }
                .min { $0.1 < $1.1 }?.0
        if let suggestion {
            warn(path, "unknown field \"\(key)\" is ignored by MarbleRun", hint: "did you mean \(suggestion)?")
        } else {
            warn(
                path, "unknown field \"\(key)\" is ignored by MarbleRun",
                hint: "remove it; a \(typeName) has \(fields.prefix(9).joined(separator: ", "))")
        }
    }

    /// A Go map: an object (or null for empty); a key given twice is ambiguous and reported.
    private mutating func map(_ value: JSONValue, at path: JSONPath) -> [(String, JSONValue, JSONPath)] {
        guard case .object(let members) = value else {
            if value != .null { typeMismatch(value, at: path, expected: "an object of named entries", example: "{\"name\": { ... }}") }
            return []
        }
        var seen = Set<String>()
        var result: [(String, JSONValue, JSONPath)] = []
        for member in members {
            let entryPath = path / member.key
            guard seen.insert(member.key).inserted else {
                fail(
                    entryPath, "the name \"\(member.key)\" is defined twice",
                    hint: "rename or remove one; MarbleRun would silently keep only the last")
                continue
            }
            result.append((member.key, member.value, entryPath))
        }
        return result
    }

    private mutating func string(_ value: JSONValue, at path: JSONPath, numberHint: Bool = false) -> String? {
        switch value {
        case .string(let text): return text
        case .null: return nil
        case .number(let literal) where numberHint:
            typeMismatch(value, at: path, expected: "a string", example: "\"\(literal)\" (quoted)")
            return nil
        default:
            typeMismatch(value, at: path, expected: "a string", example: "\"text\"")
            return nil
        }
    }

    private mutating func bool(_ value: JSONValue, at path: JSONPath) -> Bool? {
        switch value {
        case .bool(let flag): return flag
        case .null: return nil
        default:
            typeMismatch(value, at: path, expected: "true or false", example: "true")
            return nil
        }
    }

    /// A Go unsigned integer: digits only (no sign, fraction or exponent) and at most `maximum`.
    private mutating func unsigned(_ value: JSONValue, at path: JSONPath, maximum: UInt64) -> UInt64? {
        switch value {
        case .null:
            return nil
        case .number(let literal):
            guard let number = UInt64(literal), number <= maximum else {
                fail(
                    path, "\(literal) is not a whole number between 0 and \(maximum)",
                    hint: "write a non-negative integer without fraction or exponent")
                return nil
            }
            return number
        default:
            typeMismatch(value, at: path, expected: "a non-negative integer", example: "1")
            return nil
        }
    }

    private mutating func signed(_ value: JSONValue, at path: JSONPath) -> Int64? {
        switch value {
        case .null:
            return nil
        case .number(let literal):
            guard let number = Int64(literal) else {
                fail(path, "\(literal) is not a whole number", hint: "write an integer without fraction or exponent")
                return nil
            }
            return number
        default:
            typeMismatch(value, at: path, expected: "an integer", example: "1")
            return nil
        }
    }

    private mutating func strings(_ value: JSONValue, at path: JSONPath) -> [String] {
        switch value {
        case .null:
            return []
        case .array(let elements):
            var result: [String] = []
            for (position, element) in elements.enumerated() {
                result.append(string(element, at: path.appending(index: position)) ?? "")
            }
            return result
        default:
            typeMismatch(value, at: path, expected: "an array of strings", example: "[\"name\"] or []")
            return []
        }
    }

    /// Go `[]byte`: standard base64 text, or an array of numbers 0-255.
    private mutating func bytes(_ value: JSONValue, at path: JSONPath) -> [UInt8] {
        switch value {
        case .null:
            return []
        case .string(let text):
            guard let decoded = Base64.decodeStandard(text) else {
                fail(path, "the text is not valid standard base64", hint: "encode the bytes with padding, or write an array of numbers 0-255")
                return []
            }
            return decoded
        case .array(let elements):
            var result: [UInt8] = []
            for (position, element) in elements.enumerated() {
                if let byte = unsigned(element, at: path.appending(index: position), maximum: 255) { result.append(UInt8(byte)) }
            }
            return result
        default:
            typeMismatch(value, at: path, expected: "base64 text or an array of numbers 0-255", example: "\"AAEC\" or [0, 1, 2]")
            return []
        }
    }

    // MARK: Findings

    private mutating func typeMismatch(_ value: JSONValue, at path: JSONPath, expected: String, example: String) {
        fail(path, "expected \(expected), found \(value.kindDescription)", hint: "write it as \(example)")
    }

    private mutating func fail(_ path: JSONPath, _ message: String, hint: String) {
        findings.append(Finding(.error, path, message, hint: hint))
        failedPaths.append(path)
    }

    private mutating func warn(_ path: JSONPath, _ message: String, hint: String) {
        findings.append(Finding(.warning, path, message, hint: hint))
    }
}
