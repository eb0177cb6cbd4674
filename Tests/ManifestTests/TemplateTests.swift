import Foundation
import Testing

@testable import Manifest

@Suite struct TemplateTests {
    let certificate: [UInt8] = [0x30, 0x82, 0x01, 0x02, 0xFF]
    let symmetric: [UInt8] = [0x00, 0x01, 0xFE, 0xFF]

    var input: RenderingInput {
        RenderingInput(
            secrets: [
                "cert": SecretValue(type: .certECDSA, certificate: certificate, publicKey: [0x30, 0x01, 0x0A], privateKey: [0x30, 0x01, 0x0B]),
                "key": .key(symmetric, type: .symmetricKey),
                "token": .key(Array("s3cr3t".utf8), type: .plain),
                "binary": .key([0x61, 0x00, 0x62], type: .plain),
            ],
            previousSecrets: ["key": .key([0xAA, 0xBB], type: .symmetricKey)],
            marbleCertificate: SecretValue(
                type: nil, certificate: [0x30, 0x01, 0x01], publicKey: [0x30, 0x01, 0x02], privateKey: [0x30, 0x01, 0x03]),
            marbleRootCertificate: [0x30, 0x01, 0x04], coordinatorRootCertificate: [0x30, 0x01, 0x05],
            coordinatorIntermediateCertificate: [0x30, 0x01, 0x06])
    }

    func render(_ text: String, _ context: TemplateContext = .file) throws -> [UInt8] {
        try Template.parse(Array(text.utf8), context: context).render(input)
    }

    func renderText(_ text: String, _ context: TemplateContext = .file) throws -> String {
        String(decoding: try render(text, context), as: UTF8.self)
    }

    func failure(_ text: String, _ context: TemplateContext = .file) -> TemplateError? {
        do {
            _ = try render(text, context)
            return nil
        } catch {
            return error as? TemplateError
        }
    }

    @Test func pemWritesGoStylePEMForEachPart() throws {
        #expect(try renderText("{{ pem .Secrets.cert.Cert }}") == "-----BEGIN CERTIFICATE-----\nMIIBAv8=\n-----END CERTIFICATE-----\n")
        #expect(try renderText("{{ pem .Secrets.cert.Public }}", .env) == "-----BEGIN PUBLIC KEY-----\nMAEK\n-----END PUBLIC KEY-----\n")
        #expect(try renderText("{{ pem .Secrets.cert.Private }}") == "-----BEGIN PRIVATE KEY-----\nMAEL\n-----END PRIVATE KEY-----\n")
        let long = try Template.parse(Array("{{ pem .Secrets.big.Cert }}".utf8), context: .file).render(
            RenderingInput(
                secrets: ["big": SecretValue(type: .certRSA, certificate: Array(repeating: 0, count: 60), publicKey: [1], privateKey: [1])],
                previousSecrets: [:], marbleCertificate: input.marbleCertificate, marbleRootCertificate: [1], coordinatorRootCertificate: [1],
                coordinatorIntermediateCertificate: [1]))
        #expect(String(decoding: long, as: UTF8.self).split(separator: "\n").map(\.count) == [27, 64, 16, 25])
    }

    @Test func pemRejectsTheBareSecret() {
        let error = failure("{{ pem .Secrets.cert }}")
        #expect(error?.message == "pem needs .Cert, .Public or .Private, not the bare secret .Secrets.cert")
        #expect(error?.hint == "write {{ pem .Secrets.cert.Cert }} (or .Public / .Private)")
    }

    @Test func hexAndBase64EncodeTheRawValue() throws {
        #expect(try renderText("{{ hex .Secrets.key }}") == "0001feff")
        #expect(try renderText("{{ base64 .Secrets.key }}", .env) == "AAH+/w==")
        #expect(try renderText("{{ hex .Secrets.cert.Cert }}", .env) == "30820102ff")
        // A bare certificate secret means its public key, as in MarbleRun's EncodeSecretDataToRaw.
        #expect(try renderText("{{ base64 .Secrets.cert }}") == "MAEK")
    }

    @Test func rawWritesBytesAndOnlyInFiles() throws {
        #expect(try render("k={{ raw .Secrets.key }}") == Array("k=".utf8) + symmetric)
        #expect(try render("{{ raw .Secrets.cert.Private }}") == [0x30, 0x01, 0x0B])
        let error = failure("{{ raw .Secrets.key }}", .env)
        #expect(error?.message == "the raw function may only be used in Files")
        #expect(error?.hint == "use base64 or hex in Env")
    }

    @Test func stringIsForPlainSecretsInEnvOnly() throws {
        #expect(try renderText("TOKEN={{ string .Secrets.token }}", .env) == "TOKEN=s3cr3t")
        #expect(failure("{{ string .Secrets.token }}", .file)?.message == "the string function may only be used in Env")
        #expect(failure("{{ string .Secrets.key }}", .env)?.message == "string only encodes secrets of Type plain, and .Secrets.key is symmetric-key")
        #expect(failure("{{ string .Secrets.token.Public }}", .env)?.message == "string takes a plain secret itself, not .Secrets.token.Public")
        #expect(
            failure("{{ string .Secrets.binary }}", .env)?.message == ".Secrets.binary contains NUL bytes, which an environment variable cannot hold")
    }

    @Test func reservedValues() throws {
        #expect(try render("{{ raw .MarbleRun.RootCA.Cert }}") == [0x30, 0x01, 0x04])
        #expect(try render("{{ raw .MarbleRun.MarbleCert.Cert }}{{ raw .MarbleRun.MarbleCert.Private }}") == [0x30, 0x01, 0x01, 0x30, 0x01, 0x03])
        #expect(try render("{{ raw .MarbleRun.CoordinatorRoot.Cert }}") == [0x30, 0x01, 0x05])
        #expect(try render("{{ raw .MarbleRun.CoordinatorIntermediate.Cert }}") == [0x30, 0x01, 0x06])
        for reserved in ["RootCA", "CoordinatorRoot", "CoordinatorIntermediate"] {
            for part in ["Private", "Public"] {
                let error = failure("{{ pem .MarbleRun.\(reserved).\(part) }}")
                #expect(error?.message == ".MarbleRun.\(reserved).\(part) is empty: .MarbleRun.\(reserved) only has a certificate")
            }
        }
        #expect(
            failure("{{ raw .MarbleRun.SealKey }}")?.hint == "MarbleRun removed SealKey; define a symmetric-key secret and write it with raw in Files"
        )
    }

    @Test func previousSecrets() throws {
        #expect(try render("{{ raw .Previous.Secrets.key }}") == [0xAA, 0xBB])
        #expect(failure("{{ raw .Previous.key }}")?.message == ".Previous.key names no previous secret")
    }

    @Test func pipelinesLiteralsCommentsAndTrimming() throws {
        #expect(try renderText("{{ .Secrets.key | hex }}") == "0001feff")
        #expect(try renderText(#"a {{ "{{" }} b {{ `}}` }}"#) == "a {{ b }}")
        #expect(try renderText("x{{/* note */}}y") == "xy")
        #expect(try renderText("a  \n {{- hex .Secrets.key -}} \n  b") == "a0001feffb")
        #expect(try renderText("{{- /* trimmed */ -}}") == "")
        #expect(try renderText("no templates here: { } }}") == "no templates here: { } }}")
    }

    @Test func unsupportedAndBrokenActionsAreExplained() {
        #expect(failure("{{ .Secrets.key }}")?.message == "{{ .Secrets.key }} has no encoding function")
        #expect(failure("{{ hex }}")?.message == "the hex function needs a secret to encode")
        #expect(failure("{{ printf .Secrets.key }}")?.message == "unknown template function \"printf\"")
        #expect(failure("{{ if .Secrets.key }}x{{ end }}")?.message == "the template keyword \"if\" is not supported in manifests")
        #expect(failure("{{ end }}")?.message == "the template keyword \"end\" is not supported in manifests")
        #expect(failure("open {{ hex .Secrets.key")?.message == "unclosed action: {{ without }}")
        #expect(failure("{{ hex .secrets.key }}")?.hint == "names are case-sensitive: write .Secrets")
        #expect(failure("{{ hex .Secrets.missing }}")?.message == ".Secrets.missing refers to a secret that is not defined")
        #expect(failure("{{ hex .Secrets.cert.Type }}")?.message == ".Secrets.cert.Type: \"Type\" is not a part of a secret")
        #expect(failure("{{ hex .Secrets.my-key }}")?.message == "unsupported template action (Cloister supports one function applied to one secret)")
        #expect(failure("{{/* open")?.message == "unclosed comment")
    }

    @Test func certificatePartOfAKeyIsEmpty() {
        let error = failure("{{ pem .Secrets.key.Cert }}")
        #expect(error?.message == ".Secrets.key.Cert is empty: only cert-* secrets have a certificate")
    }

    @Test func usageTellsTheCoordinatorWhatUploadsNeed() throws {
        let manifest = try ManifestDocument.parse(Array(baseManifestJSON.utf8))
        #expect(
            manifest.usage(ofSecret: "apiToken")
                == {
                    var usage = SecretUsage()
                    usage.parts = [.publicKey]
                    usage.mustBeFreeOfNUL = true
                    return usage
                }())
        #expect(manifest.usage(ofSecret: "serverCert").parts == [.certificate, .privateKey])
        #expect(manifest.secretsToUpload.map(\.name) == ["apiToken"])
    }
}
