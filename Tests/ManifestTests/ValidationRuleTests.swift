import Foundation
import StrictJSON
import Testing

@testable import Manifest

/// One MarbleRun rule: a change to the base manifest and the exact findings it must produce.
struct RuleCase: Sendable, CustomTestStringConvertible {
    let rule: String
    let changes: [([String], JSONValue?)]
    let errors: [(path: String, message: String)]
    var warnings: [(path: String, message: String)] = []

    var testDescription: String { rule }
}

private func string(_ text: String) -> JSONValue { .string(text) }
private func number(_ literal: String) -> JSONValue { .number(literal) }
private func strings(_ texts: String...) -> JSONValue { .array(texts.map(JSONValue.string)) }

@Suite struct ValidationRuleTests {
    @Test func baseManifestIsCleanWithoutWarnings() throws {
        let report = try check(baseManifest())
        #expect(report.errors == [])
        #expect(report.warnings == [])
    }

    static let cases: [RuleCase] = [
        RuleCase(
            rule: "Packages must not be empty", changes: [(["Packages"], .object([])), (["Marbles"], .object([])), (["Roles"], nil)],
            errors: [("Marbles", "no marbles are defined"), ("Packages", "no packages are defined")]),
        RuleCase(
            rule: "a marble's package must exist", changes: [(["Marbles", "frontend", "Package"], string("front"))],
            errors: [("Marbles.frontend.Package", "the package \"front\" is not defined in Packages")],
            warnings: [("Packages.frontend", "no marble uses this package")]),
        RuleCase(
            rule: "a marble must name a package", changes: [(["Marbles", "frontend", "Package"], nil)],
            errors: [("Marbles.frontend.Package", "the marble names no package")],
            warnings: [("Packages.frontend", "no marble uses this package")]),
        RuleCase(
            rule: "UniqueID excludes SignerID", changes: [(["Packages", "backend", "SignerID"], string(String(repeating: "ab", count: 32)))],
            errors: [("Packages.backend.UniqueID", "both UniqueID and SignerID/ProductID/SecurityVersion are set")]),
        RuleCase(
            rule: "without UniqueID, SignerID, ProductID and SecurityVersion are required",
            changes: [
                (["Packages", "frontend", "SignerID"], nil), (["Packages", "frontend", "ProductID"], nil),
                (["Packages", "frontend", "SecurityVersion"], nil),
            ],
            errors: [
                ("Packages.frontend.ProductID", "ProductID is missing (and there is no UniqueID)"),
                ("Packages.frontend.SecurityVersion", "SecurityVersion is missing (and there is no UniqueID)"),
                ("Packages.frontend.SignerID", "SignerID is missing (and there is no UniqueID)"),
            ]),
        RuleCase(
            rule: "Debug turns a missing package value into a warning",
            changes: [(["Packages", "frontend", "Debug"], .bool(true)), (["Packages", "frontend", "ProductID"], nil)],
            errors: [],
            warnings: [
                ("Packages.frontend.Debug", "Debug is true: debug enclaves can be inspected by the host, so nothing in them is confidential"),
                ("Packages.frontend.ProductID", "ProductID is missing (and there is no UniqueID) (accepted only because Debug is true)"),
            ]),
        RuleCase(
            rule: "a package no marble uses is only checked with warnings",
            changes: [(["Packages", "spare"], .object([JSONMember(key: "SignerID", value: string(String(repeating: "cd", count: 32)))]))],
            errors: [],
            warnings: [
                ("Packages.spare", "no marble uses this package"),
                ("Packages.spare.ProductID", "ProductID is missing (and there is no UniqueID) (accepted only because no marble uses this package)"),
                (
                    "Packages.spare.SecurityVersion",
                    "SecurityVersion is missing (and there is no UniqueID) (accepted only because no marble uses this package)"
                ),
            ]),
        RuleCase(
            rule: "measurements that are not 64 hex digits never match", changes: [(["Packages", "backend", "UniqueID"], string("<replace me>"))],
            errors: [], warnings: [("Packages.backend.UniqueID", "UniqueID \"<replace me>\" is not 64 hex digits, so no enclave can match it")]),
        RuleCase(
            rule: "TCB statuses are case-sensitive", changes: [(["Packages", "frontend", "AcceptedTCBStatuses"], strings("swhardeningneeded"))],
            errors: [],
            warnings: [
                (
                    "Packages.frontend.AcceptedTCBStatuses[0]",
                    "\"swhardeningneeded\" is not a TCB status, so it never matches (statuses are case-sensitive)"
                )
            ]),
        RuleCase(
            rule: "advisory IDs look like INTEL-SA-NNNNN", changes: [(["Packages", "frontend", "AcceptedAdvisories"], strings("SA-334"))],
            errors: [], warnings: [("Packages.frontend.AcceptedAdvisories[0]", "\"SA-334\" does not look like an Intel advisory ID")]),
        RuleCase(
            rule: "a marble's TLS tags must exist", changes: [(["Marbles", "frontend", "TLS"], strings("web", "internal"))],
            errors: [("Marbles.frontend.TLS[1]", "the TLS tag \"internal\" is not defined in TLS")]),
        RuleCase(
            rule: "Argv cannot hold NUL", changes: [(["Marbles", "backend", "Parameters", "Argv"], strings("./backend", "a\u{0}b"))],
            errors: [("Marbles.backend.Parameters.Argv[1]", "the argument contains a NUL byte, which no program argument can hold")]),
        RuleCase(
            rule: "Env cannot hold NUL",
            changes: [
                (
                    ["Marbles", "frontend", "Parameters", "Env", "BINARY"],
                    .object([JSONMember(key: "Data", value: string("AEE=")), JSONMember(key: "Encoding", value: string("base64"))])
                )
            ],
            errors: [("Marbles.frontend.Parameters.Env.BINARY", "the value contains NUL bytes, which an environment variable cannot hold")]),
        RuleCase(
            rule: "Env names cannot contain =", changes: [(["Marbles", "frontend", "Parameters", "Env", "A=B"], string("x"))],
            errors: [], warnings: [("Marbles.frontend.Parameters.Env[\"A=B\"]", "\"A=B\" cannot be an environment variable name")]),
        RuleCase(
            rule: "Argv is not templated",
            changes: [(["Marbles", "backend", "Parameters", "Argv"], strings("./backend", "--key={{ hex .Secrets.dataKey }}"))],
            errors: [], warnings: [("Marbles.backend.Parameters.Argv[1]", "Argv is not a template, so the program receives \"{{\" literally")]),
        RuleCase(
            rule: "symmetric keys have an upper size", changes: [(["Secrets", "sessionKey", "Size"], number("18446744073709551608"))],
            errors: [("Secrets.sessionKey.Size", "a symmetric-key Size of 18446744073709551608 bits is larger than Cloister supports (65536)")]),
        RuleCase(
            rule: "TLS ports are port numbers",
            changes: [
                (
                    ["TLS", "web", "Outgoing"],
                    .array([.object([JSONMember(key: "Port", value: string("https")), JSONMember(key: "Addr", value: string("a"))])])
                )
            ],
            errors: [], warnings: [("TLS.web.Outgoing[0].Port", "\"https\" is not a port number between 1 and 65535, so no connection matches it")]),
        RuleCase(
            rule: "an Incoming TLS entry needs a Port", changes: [(["TLS", "web", "Incoming"], .array([.object([])]))],
            errors: [("TLS.web.Incoming[0].Port", "an Incoming entry needs a Port")]),
        RuleCase(
            rule: "an Incoming Cert must be a defined secret",
            changes: [
                (
                    ["TLS", "web", "Incoming"],
                    .array([
                        .object([
                            JSONMember(key: "Port", value: string("1")), JSONMember(key: "Cert", value: string("nope")),
                            JSONMember(key: "DisableClientAuth", value: .bool(true)),
                        ])
                    ])
                )
            ],
            errors: [("TLS.web.Incoming[0].Cert", "the secret \"nope\" is not defined in Secrets")]),
        RuleCase(
            rule: "an Incoming Cert requires DisableClientAuth",
            changes: [
                (
                    ["TLS", "web", "Incoming"],
                    .array([.object([JSONMember(key: "Port", value: string("1")), JSONMember(key: "Cert", value: string("serverCert"))])])
                )
            ],
            errors: [("TLS.web.Incoming[0].DisableClientAuth", "Cert is set, which requires DisableClientAuth: true")]),
        RuleCase(
            rule: "DisableClientAuth requires a Cert",
            changes: [
                (
                    ["TLS", "web", "Incoming"],
                    .array([.object([JSONMember(key: "Port", value: string("1")), JSONMember(key: "DisableClientAuth", value: .bool(true))])])
                )
            ],
            errors: [("TLS.web.Incoming[0].DisableClientAuth", "DisableClientAuth: true needs a Cert")]),
        RuleCase(
            rule: "an Incoming Cert should be a certificate secret",
            changes: [
                (
                    ["TLS", "web", "Incoming"],
                    .array([
                        .object([
                            JSONMember(key: "Port", value: string("1")), JSONMember(key: "Cert", value: string("dataKey")),
                            JSONMember(key: "DisableClientAuth", value: .bool(true)),
                        ])
                    ])
                )
            ],
            errors: [], warnings: [("TLS.web.Incoming[0].Cert", "the secret \"dataKey\" is symmetric-key, not a certificate, so TLS cannot use it")]),
        RuleCase(
            rule: "an Outgoing TLS entry needs Addr and Port", changes: [(["TLS", "web", "Outgoing"], .array([.object([])]))],
            errors: [("TLS.web.Outgoing[0].Addr", "an Outgoing entry needs an Addr"), ("TLS.web.Outgoing[0].Port", "an Outgoing entry needs a Port")]),
        RuleCase(
            rule: "secret types are known", changes: [(["Secrets", "sessionKey", "Type"], string("Symmetric-Key"))],
            errors: [("Secrets.sessionKey.Type", "\"Symmetric-Key\" is not a secret type")]),
        RuleCase(
            rule: "a secret needs a type", changes: [(["Secrets", "sessionKey", "Type"], nil)],
            errors: [("Secrets.sessionKey.Type", "the secret has no Type")]),
        RuleCase(
            rule: "symmetric keys are whole bytes", changes: [(["Secrets", "sessionKey", "Size"], number("100"))],
            errors: [
                ("Secrets.sessionKey.Size", "a symmetric-key Size must be a positive multiple of 8 bits, but it is 100; the key cannot be generated")
            ]),
        RuleCase(
            rule: "symmetric keys need a size", changes: [(["Secrets", "sessionKey", "Size"], nil)],
            errors: [
                ("Secrets.sessionKey.Size", "a symmetric-key Size must be a positive multiple of 8 bits, but it is 0; the key cannot be generated")
            ]),
        RuleCase(
            rule: "ECDSA sizes name P-curves", changes: [(["Secrets", "serverCert", "Size"], number("255"))],
            errors: [("Secrets.serverCert.Size", "cert-ecdsa Size 255 is not a supported curve")]),
        RuleCase(
            rule: "P-224 cannot be generated by Cloister", changes: [(["Secrets", "serverCert", "Size"], number("224"))],
            errors: [("Secrets.serverCert.Size", "Cloister cannot generate P-224 keys (MarbleRun can)")]),
        RuleCase(
            rule: "RSA keys need at least 1024 bits",
            changes: [(["Secrets", "serverCert", "Type"], string("cert-rsa")), (["Secrets", "serverCert", "Size"], number("512"))],
            errors: [("Secrets.serverCert.Size", "cert-rsa Size 512 is too small to generate")]),
        RuleCase(
            rule: "RSA keys below 2048 bits are weak",
            changes: [(["Secrets", "serverCert", "Type"], string("cert-rsa")), (["Secrets", "serverCert", "Size"], number("1024"))],
            errors: [], warnings: [("Secrets.serverCert.Size", "cert-rsa Size 1024 is weak")]),
        RuleCase(
            rule: "Ed25519 has no size", changes: [(["Secrets", "serverCert", "Type"], string("cert-ed25519"))],
            errors: [("Secrets.serverCert.Size", "cert-ed25519 keys have a fixed size, but Size is 256")]),
        RuleCase(
            rule: "plain secrets must be user-defined", changes: [(["Secrets", "apiToken", "UserDefined"], nil)],
            errors: [
                ("Roles.tokenWriter.ResourceNames[0]", "ReadSecret is granted on \"apiToken\", which is unique per marble and cannot be read"),
                (
                    "Roles.tokenWriter.ResourceNames[0]",
                    "WriteSecret is granted on \"apiToken\", which is generated by the Coordinator, not user-defined"
                ),
                ("Secrets.apiToken.UserDefined", "plain secrets are never generated, so they must be UserDefined"),
            ]),
        RuleCase(
            rule: "ValidFor and NotAfter exclude each other",
            changes: [(["Secrets", "serverCert", "Cert", "NotAfter"], string("2030-01-01T00:00:00Z"))],
            errors: [("Secrets.serverCert.ValidFor", "both ValidFor and Cert.NotAfter are set, so the validity is ambiguous")]),
        RuleCase(
            rule: "ValidFor is ignored for keys", changes: [(["Secrets", "sessionKey", "ValidFor"], number("3"))],
            errors: [], warnings: [("Secrets.sessionKey.ValidFor", "ValidFor only applies to certificates and is ignored for symmetric-key")]),
        RuleCase(
            rule: "a user's roles must exist",
            changes: [(["Users", "alice", "Certificate"], string("x")), (["Users", "alice", "Roles"], strings("ghost"))],
            errors: [
                ("Users.alice.Certificate", "the certificate is not PEM (no -----BEGIN line)"),
                ("Users.alice.Roles[0]", "the role \"ghost\" is not defined in Roles"),
            ]),
        RuleCase(
            rule: "a user needs a certificate", changes: [(["Users", "alice", "Roles"], strings("tokenWriter"))],
            errors: [("Users.alice.Certificate", "the user has no certificate")]),
        RuleCase(
            rule: "ResourceType is one of three", changes: [(["Roles", "tokenWriter", "ResourceType"], string("secrets"))],
            errors: [("Roles.tokenWriter.ResourceType", "\"secrets\" is not a ResourceType")]),
        RuleCase(
            rule: "Packages roles name existing packages", changes: [(["Roles", "frontendUpdater", "ResourceNames"], strings("frontend", "middle"))],
            errors: [("Roles.frontendUpdater.ResourceNames[1]", "the package \"middle\" is not defined in Packages")]),
        RuleCase(
            rule: "Packages roles only update security versions",
            changes: [(["Roles", "frontendUpdater", "Actions"], strings("updatesecurityversion", "ReadSecret"))],
            errors: [("Roles.frontendUpdater.Actions[1]", "\"ReadSecret\" is not an action for ResourceType Packages")]),
        RuleCase(
            rule: "Secrets roles read or write", changes: [(["Roles", "tokenWriter", "Actions"], strings("DeleteSecret"))],
            errors: [("Roles.tokenWriter.Actions[0]", "\"DeleteSecret\" is not an action for ResourceType Secrets")]),
        RuleCase(
            rule: "Secrets roles name existing secrets", changes: [(["Roles", "tokenWriter", "ResourceNames"], strings("apiToken", "missing"))],
            errors: [("Roles.tokenWriter.ResourceNames[1]", "the secret \"missing\" is not defined in Secrets")]),
        RuleCase(
            rule: "WriteSecret only on user-defined secrets", changes: [(["Roles", "tokenWriter", "ResourceNames"], strings("dataKey"))],
            errors: [
                (
                    "Roles.tokenWriter.ResourceNames[0]",
                    "WriteSecret is granted on \"dataKey\", which is generated by the Coordinator, not user-defined"
                )
            ]),
        RuleCase(
            rule: "ReadSecret not on per-marble secrets",
            changes: [
                (["Roles", "tokenWriter", "ResourceNames"], strings("sessionKey")), (["Roles", "tokenWriter", "Actions"], strings("ReadSecret")),
            ],
            errors: [("Roles.tokenWriter.ResourceNames[0]", "ReadSecret is granted on \"sessionKey\", which is unique per marble and cannot be read")]
        ),
        RuleCase(
            rule: "Manifest roles name no resources",
            changes: [
                (
                    ["Roles", "admin"],
                    .object([
                        JSONMember(key: "ResourceType", value: string("Manifest")), JSONMember(key: "ResourceNames", value: strings("x")),
                        JSONMember(key: "Actions", value: strings("UpdateManifest")),
                    ])
                )
            ],
            errors: [("Roles.admin.ResourceNames", "a Manifest role cannot name resources")]),
        RuleCase(
            rule: "Manifest roles only update the manifest",
            changes: [
                (
                    ["Roles", "admin"],
                    .object([JSONMember(key: "ResourceType", value: string("Manifest")), JSONMember(key: "Actions", value: strings("ReadSecret"))])
                )
            ],
            errors: [("Roles.admin.Actions[0]", "\"ReadSecret\" is not an action for ResourceType Manifest")]),
        RuleCase(
            rule: "a role without actions grants nothing", changes: [(["Roles", "frontendUpdater", "Actions"], .array([]))],
            errors: [], warnings: [("Roles.frontendUpdater.Actions", "the role grants no actions")]),
        RuleCase(
            rule: "recovery keys are RSA PUBLIC KEY PEM",
            changes: [(["RecoveryKeys", "ops"], string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))],
            errors: [("RecoveryKeys.ops", "the recovery key is a \"CERTIFICATE\" PEM block, not \"PUBLIC KEY\"")]),
        RuleCase(
            rule: "seal modes are known", changes: [(["Config", "SealMode"], string("uniquekey"))],
            errors: [("Config.SealMode", "\"uniquekey\" is not a seal mode")]),
        RuleCase(
            rule: "feature gates are known", changes: [(["Config", "FeatureGates"], strings("monotoniccounter", "Turbo"))],
            errors: [("Config.FeatureGates[1]", "\"Turbo\" is not a feature gate")]),
        RuleCase(
            rule: "Azure HSM sealing needs Coordinator settings", changes: [(["Config", "FeatureGates"], strings("AzureHSMSealing"))],
            errors: [],
            warnings: [
                (
                    "Config.FeatureGates[0]",
                    "AzureHSMSealing needs the Coordinator to run with EDG_MAA_URL, EDG_AZURE_HSM_VAULT_URL, EDG_AZURE_HSM_KEY_NAME, EDG_AZURE_CLIENT_ID, EDG_AZURE_TENANT_ID and credentials"
                )
            ]),
        RuleCase(
            rule: "UpdateThreshold cannot exceed the updaters", changes: [(["Config", "UpdateThreshold"], number("1"))],
            errors: [("Config.UpdateThreshold", "UpdateThreshold is 1 but only 0 user(s) may update the manifest")]),
        RuleCase(
            rule: "RecoveryThreshold cannot exceed the keys", changes: [(["Config", "RecoveryThreshold"], number("2"))],
            errors: [("Config.RecoveryThreshold", "RecoveryThreshold is 2 but only 0 recovery key(s) are defined")]),
        RuleCase(
            rule: "Infrastructures are accepted but not enforced", changes: [(["Infrastructures", "Azure", "QESVN"], number("2"))],
            errors: [], warnings: [("Infrastructures", "Infrastructures are stored but not enforced (MarbleRun's validator ignores them too)")]),
        RuleCase(
            rule: "wrong JSON types are reported where they are",
            changes: [(["Secrets", "sessionKey", "Size"], string("128")), (["Marbles", "backend", "MaxActivations"], number("-1"))],
            errors: [
                ("Marbles.backend.MaxActivations", "-1 is not a whole number between 0 and 18446744073709551615"),
                ("Secrets.sessionKey.Size", "expected a non-negative integer, found a string"),
            ]),
        RuleCase(
            rule: "a number cannot be a port string",
            changes: [
                (
                    ["TLS", "web", "Outgoing"],
                    .array([.object([JSONMember(key: "Port", value: number("443")), JSONMember(key: "Addr", value: string("a"))])])
                )
            ],
            errors: [("TLS.web.Outgoing[0].Port", "expected a string, found the number 443")]),
        RuleCase(
            rule: "unknown fields are ignored with a hint", changes: [(["Secrets", "sessionKey", "Sise"], number("1"))],
            errors: [], warnings: [("Secrets.sessionKey.Sise", "unknown field \"Sise\" is ignored by MarbleRun")]),
        RuleCase(
            rule: "file encodings are known",
            changes: [
                (
                    ["Marbles", "frontend", "Parameters", "Files", "/x"],
                    .object([JSONMember(key: "Data", value: string("x")), JSONMember(key: "Encoding", value: string("rot13"))])
                )
            ],
            errors: [("Marbles.frontend.Parameters.Files[\"/x\"].Encoding", "unknown encoding \"rot13\"")]),
        RuleCase(
            rule: "base64 file data must decode",
            changes: [
                (
                    ["Marbles", "frontend", "Parameters", "Files", "/x"],
                    .object([JSONMember(key: "Data", value: string("%%%")), JSONMember(key: "Encoding", value: string("Base64"))])
                )
            ],
            errors: [("Marbles.frontend.Parameters.Files[\"/x\"].Data", "Data is not valid standard base64 (Encoding is base64)")]),
        RuleCase(
            rule: "hex file data must decode",
            changes: [
                (
                    ["Marbles", "frontend", "Parameters", "Files", "/x"],
                    .object([JSONMember(key: "Data", value: string("abc")), JSONMember(key: "Encoding", value: string("hex"))])
                )
            ],
            errors: [("Marbles.frontend.Parameters.Files[\"/x\"].Data", "Data is not valid hex (Encoding is hex)")]),
        RuleCase(
            rule: "a file value is a string or an object", changes: [(["Marbles", "frontend", "Parameters", "Files", "/x"], number("5"))],
            errors: [
                ("Marbles.frontend.Parameters.Files[\"/x\"]", "expected a string or an object {Data, Encoding, NoTemplates}, found the number 5")
            ]),
        RuleCase(
            rule: "templates are dry-run",
            changes: [(["Marbles", "frontend", "Parameters", "Env", "SESSION_KEY"], string("{{ base64 .Secrets.sessionkey }}"))],
            errors: [("Marbles.frontend.Parameters.Env.SESSION_KEY", ".Secrets.sessionkey refers to a secret that is not defined")]),
        RuleCase(
            rule: "NoTemplates skips the dry run",
            changes: [
                (
                    ["Marbles", "frontend", "Parameters", "Files", "/t"],
                    .object([JSONMember(key: "Data", value: string("{{ nonsense }}")), JSONMember(key: "NoTemplates", value: .bool(true))])
                )
            ],
            errors: []),
        RuleCase(
            rule: "certificate IP addresses must parse",
            changes: [(["Secrets", "serverCert", "Cert", "IPAddresses"], strings("10.0.0.1", "fd00::1", "10.0.0.256"))],
            errors: [("Secrets.serverCert.Cert.IPAddresses[2]", "\"10.0.0.256\" is not an IP address")]),
        RuleCase(
            rule: "extended key usages are Go's numbers",
            changes: [(["Secrets", "serverCert", "Cert", "ExtKeyUsage"], .array([number("1"), number("14")]))],
            errors: [("Secrets.serverCert.Cert.ExtKeyUsage[1]", "unknown extended key usage 14")]),
        RuleCase(
            rule: "NotAfter is RFC 3339",
            changes: [(["Secrets", "serverCert", "ValidFor"], nil), (["Secrets", "serverCert", "Cert", "NotAfter"], string("next year"))],
            errors: [("Secrets.serverCert.Cert.NotAfter", "\"next year\" is not an RFC 3339 time")]),
    ]

    @Test(arguments: cases)
    func rule(_ ruleCase: RuleCase) throws {
        var manifest = try baseManifest()
        for (path, value) in ruleCase.changes { manifest = manifest.setting(path, to: value) }
        let report = try check(manifest)
        let errors = report.errors.map { "\($0.path): \($0.message)" }
        let warnings = report.warnings.map { "\($0.path): \($0.message)" }
        #expect(errors == ruleCase.errors.map { "\($0.path): \($0.message)" })
        #expect(warnings == ruleCase.warnings.map { "\($0.path): \($0.message)" })
        for finding in report.errors + report.warnings {
            #expect(!finding.hint.isEmpty, "every finding carries a hint: \(finding)")
        }
    }

    @Test func likelyTyposGetASuggestion() throws {
        let report = try check(
            try baseManifest().setting(["Secrets", "sessionKey", "Sise"], to: .number("1")).setting(
                ["Marbles", "frontend", "Parameter"], to: .object([])))
        #expect(report.warning(at: "Secrets.sessionKey.Sise")?.hint == "did you mean Size?")
        #expect(report.warning(at: "Marbles.frontend.Parameter")?.hint == "did you mean Parameters?")
        let unrelated = try check(try baseManifest().setting(["Packages", "backend", "Comment"], to: .string("x")))
        #expect(
            unrelated.warning(at: "Packages.backend.Comment")?.hint
                == "remove it; a package has Debug, UniqueID, SignerID, ProductID, SecurityVersion, AcceptedTCBStatuses, AcceptedAdvisories")
        let users = try check(
            try baseManifest().setting(["Users", "alice", "Cert"], to: .string("x")).setting(
                ["Users", "alice", "Certificate"], to: .string(try TestKeys.userCertificatePEM(commonName: "alice"))))
        #expect(users.warning(at: "Users.alice.Cert")?.hint == "move it to Certificate")
    }

    @Test func userCertificatesMustBeUniqueAndParse() throws {
        let pem = try TestKeys.userCertificatePEM(commonName: "alice")
        var manifest = try baseManifest()
        manifest = manifest.setting(["Users", "alice", "Certificate"], to: .string(pem))
        manifest = manifest.setting(["Users", "bob", "Certificate"], to: .string(pem))
        manifest = manifest.setting(["Users", "carol", "Certificate"], to: .string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
        manifest = manifest.setting(["Users", "dave", "Certificate"], to: .string("junk before\n" + pem))
        let report = try check(manifest)
        #expect(report.errorPaths == ["Users.bob.Certificate", "Users.carol.Certificate", "Users.dave.Certificate"])
        #expect(report.error(at: "Users.bob.Certificate")?.message == "the same certificate is already given to user \"alice\"")
        #expect(report.error(at: "Users.carol.Certificate")?.message.hasPrefix("the PEM block \"CERTIFICATE\" is not an X.509 certificate") == true)
        #expect(report.error(at: "Users.dave.Certificate")?.message == "this certificate is the same as user \"alice\"'s (written differently)")
    }

    @Test func updateThresholdCountsEachUpdaterOnce() throws {
        var manifest = try baseManifest()
        manifest = manifest.setting(
            ["Roles", "admin"],
            to: .object([
                JSONMember(key: "ResourceType", value: .string("Manifest")), JSONMember(key: "Actions", value: .array([.string("updatemanifest")])),
            ]))
        manifest = manifest.setting(
            ["Roles", "admin2"],
            to: .object([
                JSONMember(key: "ResourceType", value: .string("Manifest")), JSONMember(key: "Actions", value: .array([.string("UpdateManifest")])),
            ]))
        manifest = manifest.setting(
            ["Users", "alice"],
            to: .object([
                JSONMember(key: "Certificate", value: .string(try TestKeys.userCertificatePEM(commonName: "alice"))),
                JSONMember(key: "Roles", value: .array([.string("admin"), .string("admin2")])),
            ]))
        #expect(try check(manifest.setting(["Config", "UpdateThreshold"], to: .number("1"))).errors == [])
        let report = try check(manifest.setting(["Config", "UpdateThreshold"], to: .number("2")))
        #expect(report.errorPaths == ["Config.UpdateThreshold"])
        #expect(report.errors.first?.message == "UpdateThreshold is 2 but only 1 user(s) may update the manifest")
    }

    @Test func recoveryKeysAndThresholds() throws {
        var manifest = try baseManifest()
        manifest = manifest.setting(["RecoveryKeys", "one"], to: .string(try TestKeys.recoveryKeyPEM()))
        manifest = manifest.setting(["RecoveryKeys", "two"], to: .string(try TestKeys.recoveryKeyPEM()))
        #expect(try check(manifest).errors == [])
        #expect(try check(manifest.setting(["Config", "RecoveryThreshold"], to: .number("2"))).errors == [])
        let one = try check(manifest.setting(["Config", "RecoveryThreshold"], to: .number("1")))
        #expect(one.errors.map(\.message) == ["RecoveryThreshold 1 is not allowed"])
        let ecKey = try check(manifest.setting(["RecoveryKeys", "two"], to: .string(try TestKeys.userCertificatePEM(commonName: "x"))))
        #expect(ecKey.errors.map(\.message) == ["the recovery key is a \"CERTIFICATE\" PEM block, not \"PUBLIC KEY\""])
    }

    @Test func keysMatchCaseInsensitivelyAsInGo() throws {
        let json = """
            {"packages": {"p": {"uniqueid": "\(String(repeating: "a", count: 64))"}},
             "MARBLES": {"m": {"package": "p", "parameters": {"env": {"K": {"data": "v", "ENCODING": "STRING"}}}}},
             "config": {"featuregates": ["signquoteendpoint"]}}
            """
        let manifest = try ManifestDocument.parse(Array(json.utf8))
        #expect(manifest.validate().errors == [])
        #expect(manifest.content.marbles["m"]?.parameters.env["K"]?.data == Array("v".utf8))
        // Map keys (names) stay case-sensitive.
        #expect(manifest.content.packages["P"] == nil)
    }

    @Test func fieldsGivenTwiceAndNamesDefinedTwiceAreAmbiguous() throws {
        let unique = String(repeating: "a", count: 64)
        let json = """
            {"Packages": {"p": {"UniqueID": "\(unique)", "uniqueid": "\(unique)"}, "p": {"UniqueID": "\(unique)"}},
             "Marbles": {"m": {"Package": "p"}}}
            """
        let report = try check(json)
        #expect(
            report.errors.map { "\($0.path): \($0.message)" } == [
                "Packages.p: the name \"p\" is defined twice",
                "Packages.p.UniqueID: UniqueID is given twice (as \"UniqueID\" and \"uniqueid\")",
            ])
    }

    @Test func nullMeansAbsentAsInGo() throws {
        let unique = String(repeating: "a", count: 64)
        let report = try check(
            #"{"Packages": {"p": {"UniqueID": "\#(unique)", "ProductID": null}}, "Marbles": {"m": {"Package": "p", "TLS": null}}, "Secrets": null, "Config": null}"#
        )
        #expect(report.errors == [])
        let envNull = try check(
            #"{"Packages": {"p": {"UniqueID": "\#(unique)"}}, "Marbles": {"m": {"Package": "p", "Parameters": {"Env": {"K": null}}}}}"#)
        #expect(envNull.errors.map(\.message) == ["expected a string or an object {Data, Encoding, NoTemplates}, found null"])
    }

    @Test func aManifestThatIsNotAnObjectGetsOneError() throws {
        let report = try check("[]")
        #expect(report.errors.map { "\($0.path): \($0.message)" } == [": expected an object (manifest), found an array"])
    }

    @Test func typeFaultsSuppressFollowUpFindingsInsideThem() throws {
        let report = try check(try baseManifest().setting(["Secrets", "serverCert"], to: .string("cert-ecdsa")))
        // The secret is unusable, but the TLS entry and templates that use it are not blamed a second time.
        #expect(report.errorPaths == ["Secrets.serverCert"])
        #expect(report.errors.first?.message == "expected an object (secret), found a string")
    }
}
