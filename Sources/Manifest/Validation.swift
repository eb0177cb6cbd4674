import Foundation
import Hexadecimal
import StrictJSON
import SwiftASN1
import X509
import _CryptoExtras

extension Manifest {
    /// Every fault MarbleRun would reject (errors) and everything that is accepted but likely wrong (warnings), each
    /// with its JSON path and a hint. All templates are dry-run with placeholder secrets of the declared types, so a
    /// manifest without errors renders for every marble once its secrets exist.
    public func validate() -> ValidationReport {
        var validator = ManifestValidator(content: content)
        validator.run()
        let checked = validator.findings.filter { finding in
            !failedPaths.contains { failed in finding.path.hasPrefix(failed.description) && Self.isPath(finding.path, within: failed.description) }
        }
        return ValidationReport(findings: readingFindings + checked)
    }

    /// Whether `path` is `prefix` or lies inside it; a root that failed to decode covers everything.
    private static func isPath(_ path: String, within prefix: String) -> Bool {
        if prefix.isEmpty { return true }
        guard path.count > prefix.count else { return path == prefix }
        let next = path[path.index(path.startIndex, offsetBy: prefix.count)]
        return next == "." || next == "["
    }
}

/// MarbleRun's `Manifest.Check`, `GenerateSecrets`, `GenerateUsers`, recovery-key parsing and `TemplateDryRun`,
/// reporting every fault instead of the first.
struct ManifestValidator {
    let content: ManifestContent
    private(set) var findings: [Finding] = []

    init(content: ManifestContent) {
        self.content = content
    }

    static let tcbStatuses = [
        "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate",
        "OutOfDateConfigurationNeeded", "Revoked",
    ]
    static let featureGates = ["SignQuoteEndpoint", "MonotonicCounter", "AzureHSMSealing"]
    static let sealModes = ["", "ProductKey", "UniqueKey", "Disabled"]
    static let maximumSymmetricKeyBits: UInt64 = 65_536

    mutating func run() {
        checkTopLevel()
        checkPackages()
        checkMarbles()
        checkTLS()
        checkSecrets()
        checkUsers()
        checkRoles()
        checkRecoveryKeys()
        checkConfig()
        checkTemplates()
    }

    private mutating func error(_ path: JSONPath, _ message: String, hint: String) {
        findings.append(Finding(.error, path, message, hint: hint))
    }

    private mutating func warning(_ path: JSONPath, _ message: String, hint: String) {
        findings.append(Finding(.warning, path, message, hint: hint))
    }

    private static func names(_ keys: some Collection<String>) -> String {
        keys.isEmpty ? "none is defined" : keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
    }

    // MARK: Sections

    private mutating func checkTopLevel() {
        if content.packages.isEmpty {
            error(
                .root / "Packages", "no packages are defined",
                hint: "add the enclave packages your marbles run, e.g. {\"backend\": {\"UniqueID\": \"<MRENCLAVE hex>\"}}")
        }
        if content.marbles.isEmpty {
            error(.root / "Marbles", "no marbles are defined", hint: "add at least one marble type, e.g. {\"backend\": {\"Package\": \"backend\"}}")
        }
        if !content.infrastructures.isEmpty {
            warning(
                .root / "Infrastructures", "Infrastructures are stored but not enforced (MarbleRun's validator ignores them too)",
                hint: "rely on Packages and AcceptedTCBStatuses to constrain platforms")
        }
    }

    private mutating func checkPackages() {
        let used = Set(content.marbles.values.map(\.package))
        for (name, package) in content.packages {
            let path = JSONPath.root / "Packages" / name
            let isUsed = used.contains(name)
            // MarbleRun checks only packages that a marble uses; an unused incomplete package is merely suspicious.
            let strict = isUsed && !package.debug
            func report(_ fieldPath: JSONPath, _ message: String, hint: String) {
                if strict {
                    error(fieldPath, message, hint: hint)
                } else {
                    let reason = package.debug ? "accepted only because Debug is true" : "accepted only because no marble uses this package"
                    warning(fieldPath, "\(message) (\(reason))", hint: hint)
                }
            }
            if package.debug {
                warning(
                    path / "Debug", "Debug is true: debug enclaves can be inspected by the host, so nothing in them is confidential",
                    hint: "set Debug to false for production")
            }
            if !isUsed {
                warning(path, "no marble uses this package", hint: "remove it, or reference it from Marbles.<name>.Package")
            }
            let hasSignerFields = !package.signerID.isEmpty || package.productID != nil || package.securityVersion != nil
            if !package.uniqueID.isEmpty && hasSignerFields {
                report(
                    path / "UniqueID", "both UniqueID and SignerID/ProductID/SecurityVersion are set",
                    hint: "identify the package either by UniqueID alone or by SignerID, ProductID and SecurityVersion")
            } else if package.uniqueID.isEmpty {
                if package.signerID.isEmpty {
                    report(
                        path / "SignerID", "SignerID is missing (and there is no UniqueID)",
                        hint: "set UniqueID (MRENCLAVE), or SignerID (MRSIGNER) with ProductID and SecurityVersion")
                }
                if package.productID == nil {
                    report(path / "ProductID", "ProductID is missing (and there is no UniqueID)", hint: "set ProductID (ISVPRODID) next to SignerID")
                }
                if package.securityVersion == nil {
                    report(
                        path / "SecurityVersion", "SecurityVersion is missing (and there is no UniqueID)",
                        hint: "set SecurityVersion (the minimum ISVSVN) next to SignerID")
                }
            }
            for (field, value) in [("UniqueID", package.uniqueID), ("SignerID", package.signerID)] where !value.isEmpty {
                if value.utf8.count != 64 || [UInt8](hexadecimal: value) == nil {
                    warning(
                        path / field, "\(field) \"\(value.prefix(80))\" is not 64 hex digits, so no enclave can match it",
                        hint: "paste the 32-byte measurement as hex (e.g. from `ego uniqueid` or `gramine-sgx-sigstruct-view`)")
                }
            }
            for (position, status) in package.acceptedTCBStatuses.enumerated() where !Self.tcbStatuses.contains(status) {
                let match = Self.tcbStatuses.first { $0.caseInsensitiveCompare(status) == .orderedSame }
                warning(
                    (path / "AcceptedTCBStatuses").appending(index: position),
                    "\"\(status)\" is not a TCB status, so it never matches (statuses are case-sensitive)",
                    hint: match.map { "write \"\($0)\"" } ?? "use one of \(Self.tcbStatuses.joined(separator: ", "))")
            }
            for (position, advisory) in package.acceptedAdvisories.enumerated()
            where advisory.range(of: #"^INTEL-SA-\d{5}$"#, options: [.regularExpression, .caseInsensitive]) == nil {
                warning(
                    (path / "AcceptedAdvisories").appending(index: position), "\"\(advisory)\" does not look like an Intel advisory ID",
                    hint: "write IDs such as \"INTEL-SA-00334\"")
            }
        }
    }

    private mutating func checkMarbles() {
        for (name, marble) in content.marbles {
            let path = JSONPath.root / "Marbles" / name
            if marble.package.isEmpty {
                error(path / "Package", "the marble names no package", hint: "set Package to one of: \(Self.names(content.packages.keys))")
            } else if content.packages[marble.package] == nil {
                error(
                    path / "Package", "the package \"\(marble.package)\" is not defined in Packages",
                    hint: "define it, or use one of: \(Self.names(content.packages.keys))")
            }
            for (position, tag) in marble.tlsTags.enumerated() where content.tls[tag] == nil {
                error(
                    (path / "TLS").appending(index: position), "the TLS tag \"\(tag)\" is not defined in TLS",
                    hint: "define TLS.\(tag), or use one of: \(Self.names(content.tls.keys))")
            }
            for (position, argument) in marble.parameters.argv.enumerated() {
                let argumentPath = (path / "Parameters" / "Argv").appending(index: position)
                if argument.utf8.contains(0) {
                    error(argumentPath, "the argument contains a NUL byte, which no program argument can hold", hint: "remove the \\u0000")
                }
                if argument.contains("{{") {
                    warning(
                        argumentPath, "Argv is not a template, so the program receives \"{{\" literally",
                        hint: "pass secrets through Env or Files, and let the program read them there")
                }
            }
            for (variable, value) in marble.parameters.env {
                let variablePath = path / "Parameters" / "Env" / variable
                if value.data.contains(0) {
                    error(
                        variablePath, "the value contains NUL bytes, which an environment variable cannot hold",
                        hint: "remove them, or deliver binary data as a file")
                }
                if variable.isEmpty || variable.contains("=") || variable.utf8.contains(0) {
                    warning(
                        variablePath, "\"\(variable)\" cannot be an environment variable name", hint: "use a name without '=' or NUL, such as API_KEY"
                    )
                }
            }
        }
    }

    private mutating func checkTLS() {
        for (tagName, tag) in content.tls {
            let path = JSONPath.root / "TLS" / tagName
            for (position, entry) in tag.incoming.enumerated() {
                let entryPath = (path / "Incoming").appending(index: position)
                if entry.port.isEmpty {
                    error(entryPath / "Port", "an Incoming entry needs a Port", hint: "set Port to the listening port as a string, e.g. \"8443\"")
                } else {
                    checkPortNumber(entry.port, at: entryPath / "Port")
                }
                if !entry.certificate.isEmpty {
                    if let secret = content.secrets[entry.certificate] {
                        if let type = secret.type, !type.isCertificate {
                            warning(
                                entryPath / "Cert",
                                "the secret \"\(entry.certificate)\" is \(type.rawValue), not a certificate, so TLS cannot use it",
                                hint: "use a cert-ecdsa, cert-rsa or cert-ed25519 secret")
                        }
                    } else {
                        error(
                            entryPath / "Cert", "the secret \"\(entry.certificate)\" is not defined in Secrets",
                            hint: "define it as a cert-* secret, or use one of: \(Self.names(content.secrets.keys))")
                    }
                    if !entry.disableClientAuthentication {
                        error(
                            entryPath / "DisableClientAuth", "Cert is set, which requires DisableClientAuth: true",
                            hint: "set DisableClientAuth to true, or remove Cert to use the marble certificate with client authentication")
                    }
                } else if entry.disableClientAuthentication {
                    error(
                        entryPath / "DisableClientAuth", "DisableClientAuth: true needs a Cert",
                        hint: "set Cert to a cert-* secret that clients trust, or remove DisableClientAuth")
                }
            }
            for (position, entry) in tag.outgoing.enumerated() {
                let entryPath = (path / "Outgoing").appending(index: position)
                if entry.address.isEmpty {
                    error(
                        entryPath / "Addr", "an Outgoing entry needs an Addr",
                        hint: "set Addr to the host name or IP address, e.g. \"service.namespace\"")
                }
                if entry.port.isEmpty {
                    error(entryPath / "Port", "an Outgoing entry needs a Port", hint: "set Port to the port as a string, e.g. \"443\"")
                } else {
                    checkPortNumber(entry.port, at: entryPath / "Port")
                }
            }
        }
    }

    private mutating func checkPortNumber(_ port: String, at path: JSONPath) {
        guard let number = UInt16(port), number > 0 else {
            warning(
                path, "\"\(port)\" is not a port number between 1 and 65535, so no connection matches it",
                hint: "write the port as a decimal string, e.g. \"8443\"")
            return
        }
    }

    private mutating func checkSecrets() {
        for (name, secret) in content.secrets {
            let path = JSONPath.root / "Secrets" / name
            guard let type = secret.type else {
                let known = SecretType.allCases.map(\.rawValue)
                let match = known.first { $0.caseInsensitiveCompare(secret.typeName) == .orderedSame }
                let message = secret.typeName.isEmpty ? "the secret has no Type" : "\"\(secret.typeName)\" is not a secret type"
                error(
                    path / "Type", message,
                    hint: match.map { "write \"\($0)\" (types are case-sensitive)" } ?? "use one of \(known.joined(separator: ", "))")
                continue
            }
            if type.isCertificate {
                if secret.certificate.notAfter != nil && secret.validFor != 0 {
                    error(path / "ValidFor", "both ValidFor and Cert.NotAfter are set, so the validity is ambiguous", hint: "keep one of them")
                }
            } else {
                if secret.validFor != 0 {
                    warning(path / "ValidFor", "ValidFor only applies to certificates and is ignored for \(type.rawValue)", hint: "remove it")
                }
                if secret.certificate != CertificateTemplate() {
                    warning(
                        path / "Cert", "a certificate template only applies to cert-* secrets and is ignored for \(type.rawValue)",
                        hint: "remove it, or change the Type")
                }
            }
            let sizePath = path / "Size"
            switch type {
            case .plain:
                if !secret.userDefined {
                    error(
                        path / "UserDefined", "plain secrets are never generated, so they must be UserDefined",
                        hint: "set UserDefined to true and upload the value with `secret set`")
                }
            case .symmetricKey:
                if secret.size > Self.maximumSymmetricKeyBits {
                    error(
                        sizePath, "a symmetric-key Size of \(secret.size) bits is larger than Cloister supports (\(Self.maximumSymmetricKeyBits))",
                        hint: "use e.g. 128 or 256; store large data as a plain secret")
                } else if secret.size == 0 || secret.size % 8 != 0 {
                    let consequence = secret.userDefined ? "no upload can match it" : "the key cannot be generated"
                    error(
                        sizePath, "a symmetric-key Size must be a positive multiple of 8 bits, but it is \(secret.size); \(consequence)",
                        hint: "use e.g. 128 or 256")
                }
            case .certECDSA where !secret.userDefined:
                if secret.size == 224 {
                    error(sizePath, "Cloister cannot generate P-224 keys (MarbleRun can)", hint: "use 256, 384 or 521")
                } else if ![256, 384, 521].contains(secret.size) {
                    error(sizePath, "cert-ecdsa Size \(secret.size) is not a supported curve", hint: "use 256, 384 or 521 (the NIST P-curves)")
                }
            case .certRSA where !secret.userDefined:
                if secret.size < 1024 {
                    error(sizePath, "cert-rsa Size \(secret.size) is too small to generate", hint: "use 2048, 3072 or 4096")
                } else if secret.size < 2048 {
                    warning(sizePath, "cert-rsa Size \(secret.size) is weak", hint: "use 2048, 3072 or 4096")
                } else if secret.size > 16384 {
                    error(sizePath, "cert-rsa Size \(secret.size) is too large to generate", hint: "use 2048, 3072 or 4096")
                }
            case .certED25519 where !secret.userDefined:
                if secret.size != 0 {
                    error(sizePath, "cert-ed25519 keys have a fixed size, but Size is \(secret.size)", hint: "remove Size")
                }
            default:
                break
            }
        }
    }

    private mutating func checkUsers() {
        var ownerOfText: [String: String] = [:]
        var ownerOfDER: [[UInt8]: String] = [:]
        for name in content.users.keys.sorted() {
            let user = content.users[name]!
            let path = JSONPath.root / "Users" / name
            for (position, role) in user.roles.enumerated() where content.roles[role] == nil {
                error(
                    (path / "Roles").appending(index: position), "the role \"\(role)\" is not defined in Roles",
                    hint: "define it, or use one of: \(Self.names(content.roles.keys))")
            }
            let certificatePath = path / "Certificate"
            guard !user.certificate.isEmpty else {
                error(
                    certificatePath, "the user has no certificate",
                    hint: "paste the user's PEM certificate (-----BEGIN CERTIFICATE----- ...), with newlines written as \\n")
                continue
            }
            if let other = ownerOfText[user.certificate] {
                error(certificatePath, "the same certificate is already given to user \"\(other)\"", hint: "give every user their own certificate")
                continue
            }
            ownerOfText[user.certificate] = name
            switch UserCertificate.parse(user.certificate) {
            case .success(let der):
                if let other = ownerOfDER[der] {
                    error(
                        certificatePath, "this certificate is the same as user \"\(other)\"'s (written differently)",
                        hint: "give every user their own certificate")
                }
                ownerOfDER[der] = name
            case .failure(let problem):
                error(certificatePath, problem.message, hint: problem.hint)
            }
        }
    }

    private mutating func checkRoles() {
        for (name, role) in content.roles {
            let path = JSONPath.root / "Roles" / name
            let actionsPath = path / "Actions"
            if role.actions.isEmpty {
                warning(actionsPath, "the role grants no actions", hint: "add actions, or remove the role")
            }
            func checkActions(_ allowed: [String]) {
                for (position, action) in role.actions.enumerated() where !allowed.contains(where: { $0.lowercased() == action.lowercased() }) {
                    error(
                        actionsPath.appending(index: position), "\"\(action)\" is not an action for ResourceType \(role.resourceType)",
                        hint: "use \(allowed.joined(separator: " or "))")
                }
            }
            let grants = Set(role.actions.map { $0.lowercased() })
            switch role.resourceType {
            case "Packages":
                checkActions(["UpdateSecurityVersion"])
                for (position, package) in role.resourceNames.enumerated() where content.packages[package] == nil {
                    error(
                        (path / "ResourceNames").appending(index: position), "the package \"\(package)\" is not defined in Packages",
                        hint: "use one of: \(Self.names(content.packages.keys))")
                }
            case "Secrets":
                checkActions(["ReadSecret", "WriteSecret"])
                for (position, secretName) in role.resourceNames.enumerated() {
                    let namePath = (path / "ResourceNames").appending(index: position)
                    guard let secret = content.secrets[secretName] else {
                        error(
                            namePath, "the secret \"\(secretName)\" is not defined in Secrets",
                            hint: "use one of: \(Self.names(content.secrets.keys))")
                        continue
                    }
                    if grants.contains("writesecret") && !secret.userDefined {
                        error(
                            namePath, "WriteSecret is granted on \"\(secretName)\", which is generated by the Coordinator, not user-defined",
                            hint: "grant only ReadSecret on it, or set UserDefined: true on the secret")
                    }
                    if grants.contains("readsecret") && secret.isPerMarble {
                        error(
                            namePath, "ReadSecret is granted on \"\(secretName)\", which is unique per marble and cannot be read",
                            hint: "set Shared: true on the secret, or remove it from the role")
                    }
                }
            case "Manifest":
                checkActions(["UpdateManifest"])
                if !role.resourceNames.isEmpty {
                    error(path / "ResourceNames", "a Manifest role cannot name resources", hint: "remove ResourceNames or set it to []")
                }
            default:
                let known = ["Packages", "Secrets", "Manifest"]
                let match = known.first { $0.caseInsensitiveCompare(role.resourceType) == .orderedSame }
                let message = role.resourceType.isEmpty ? "the role has no ResourceType" : "\"\(role.resourceType)\" is not a ResourceType"
                error(path / "ResourceType", message, hint: match.map { "write \"\($0)\" (case-sensitive)" } ?? "use Packages, Secrets or Manifest")
            }
        }
    }

    private mutating func checkRecoveryKeys() {
        for (name, key) in content.recoveryKeys {
            let path = JSONPath.root / "RecoveryKeys" / name
            switch RecoveryKey.parse(key) {
            case .success(let bits):
                if bits < 2048 {
                    warning(path, "the RSA recovery key has only \(bits) bits", hint: "use a 3072- or 4096-bit key")
                }
            case .failure(let problem):
                error(path, problem.message, hint: problem.hint)
            }
        }
    }

    private mutating func checkConfig() {
        let config = content.config
        let path = JSONPath.root / "Config"
        if !Self.sealModes.contains(config.sealMode) {
            let match = Self.sealModes.first { !$0.isEmpty && $0.caseInsensitiveCompare(config.sealMode) == .orderedSame }
            error(
                path / "SealMode", "\"\(config.sealMode)\" is not a seal mode",
                hint: match.map { "write \"\($0)\" (case-sensitive)" } ?? "use ProductKey (the default), UniqueKey or Disabled")
        }
        for (position, gate) in config.featureGates.enumerated() {
            guard let known = Self.featureGates.first(where: { $0.lowercased() == gate.lowercased() }) else {
                error(
                    (path / "FeatureGates").appending(index: position), "\"\(gate)\" is not a feature gate",
                    hint: "use SignQuoteEndpoint, MonotonicCounter or AzureHSMSealing")
                continue
            }
            if known == "AzureHSMSealing" {
                warning(
                    (path / "FeatureGates").appending(index: position),
                    "AzureHSMSealing needs the Coordinator to run with EDG_MAA_URL, EDG_AZURE_HSM_VAULT_URL, EDG_AZURE_HSM_KEY_NAME, EDG_AZURE_CLIENT_ID, EDG_AZURE_TENANT_ID and credentials",
                    hint: "set them before uploading; the Coordinator rejects the manifest otherwise")
            }
        }
        let updaters = content.users.values.filter { user in
            user.roles.contains { content.roles[$0].map { $0.resourceType == "Manifest" && !$0.actions.isEmpty } ?? false }
        }.count
        if config.updateThreshold > UInt64(updaters) {
            error(
                path / "UpdateThreshold", "UpdateThreshold is \(config.updateThreshold) but only \(updaters) user(s) may update the manifest",
                hint: "lower it, or give more users a role with ResourceType Manifest and action UpdateManifest")
        }
        let keyCount = UInt64(content.recoveryKeys.count)
        if config.recoveryThreshold > keyCount {
            error(
                path / "RecoveryThreshold", "RecoveryThreshold is \(config.recoveryThreshold) but only \(keyCount) recovery key(s) are defined",
                hint: "lower it, or add RecoveryKeys")
        }
        if config.recoveryThreshold == 1 {
            error(path / "RecoveryThreshold", "RecoveryThreshold 1 is not allowed", hint: "use 0 (all keys are needed) or at least 2")
        }
    }

    /// MarbleRun's `TemplateDryRun`, with placeholders shaped like the declared secrets so that a template that
    /// passes here cannot fail later for want of a certificate or key part.
    private mutating func checkTemplates() {
        let input = DryRun.input(for: content.secrets)
        for (marbleName, marble) in content.marbles {
            let parameters = JSONPath.root / "Marbles" / marbleName / "Parameters"
            for (context, entries) in [(TemplateContext.file, marble.parameters.files), (.env, marble.parameters.env)] {
                for (entryName, value) in entries where !value.noTemplates {
                    let entryPath = parameters / context.rawValue / entryName
                    do {
                        let template = try Template.parse(value.data, context: context)
                        let rendered = try template.render(input)
                        if context == .env && rendered.contains(0) && !value.data.contains(0) {
                            error(entryPath, "the rendered value contains NUL bytes", hint: "use base64 or hex")
                        }
                    } catch {
                        self.error(entryPath, error.message, hint: error.hint)
                    }
                }
            }
        }
    }
}

/// Placeholder values for template dry runs.
enum DryRun {
    static let filler: UInt8 = 0x41

    static func placeholder(for definition: SecretDefinition) -> SecretValue {
        switch definition.type {
        case .symmetricKey:
            let length =
                definition.size > 0 && definition.size % 8 == 0 && definition.size <= ManifestValidator.maximumSymmetricKeyBits
                ? Int(definition.size / 8) : 1
            return .key(Array(repeating: filler, count: length), type: .symmetricKey)
        case .plain:
            return .key([filler], type: .plain)
        case .certRSA, .certECDSA, .certED25519, nil:
            return SecretValue(type: definition.type, certificate: [filler], publicKey: [filler], privateKey: [filler])
        }
    }

    static func input(for secrets: [String: SecretDefinition]) -> RenderingInput {
        let values = secrets.mapValues(placeholder(for:))
        return RenderingInput(
            secrets: values, previousSecrets: values,
            marbleCertificate: SecretValue(type: nil, certificate: [filler], publicKey: [filler], privateKey: [filler]),
            marbleRootCertificate: [filler], coordinatorRootCertificate: [filler], coordinatorIntermediateCertificate: [filler])
    }
}

struct Problem: Error {
    let message: String
    let hint: String
}

/// MarbleRun's `GenerateUsers`: the first PEM block of the text must hold an X.509 certificate.
enum UserCertificate {
    static func parse(_ text: String) -> Result<[UInt8], Problem> {
        let hint = "paste the user's PEM certificate (-----BEGIN CERTIFICATE----- ...), with newlines written as \\n"
        guard let begin = text.range(of: "-----BEGIN ") else {
            return .failure(Problem(message: "the certificate is not PEM (no -----BEGIN line)", hint: hint))
        }
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: String(text[begin.lowerBound...]))
        } catch {
            return .failure(Problem(message: "the certificate PEM cannot be decoded (\(error))", hint: hint))
        }
        guard let first = documents.first else {
            return .failure(Problem(message: "the certificate PEM has no content", hint: hint))
        }
        do {
            _ = try Certificate(derEncoded: first.derBytes)
            return .success(first.derBytes)
        } catch {
            return .failure(Problem(message: "the PEM block \"\(first.discriminator)\" is not an X.509 certificate (\(error))", hint: hint))
        }
    }
}

/// MarbleRun's `ParseRSAPublicKeyFromPEM`: a `PUBLIC KEY` PEM block holding an RSA key.
enum RecoveryKey {
    static func parse(_ text: String) -> Result<Int, Problem> {
        let hint = "paste an RSA public key in PEM (`openssl rsa -in key.pem -pubout`), with newlines written as \\n"
        guard let begin = text.range(of: "-----BEGIN ") else {
            return .failure(Problem(message: "the recovery key is not PEM (no -----BEGIN line)", hint: hint))
        }
        guard let document = try? PEMDocument.parseMultiple(pemString: String(text[begin.lowerBound...])).first else {
            return .failure(Problem(message: "the recovery key PEM cannot be decoded", hint: hint))
        }
        guard document.discriminator == "PUBLIC KEY" else {
            return .failure(Problem(message: "the recovery key is a \"\(document.discriminator)\" PEM block, not \"PUBLIC KEY\"", hint: hint))
        }
        guard let key = try? _RSA.Encryption.PublicKey(derRepresentation: document.derBytes) else {
            return .failure(Problem(message: "the recovery key is not an RSA public key", hint: hint))
        }
        return .success(key.keySizeInBits)
    }
}
