import Foundation
import Testing

@testable import Manifest

/// Real MarbleRun manifests that are not in the shared corpus, written out from MarbleRun's repository at
/// 757712c7: the unit-test manifest (`test/manifests.go`, `ManifestJSON`) and the sections of the manifest guide
/// (`docs/docs/workflows/define-manifest.md`) assembled into one document.
enum MarbleRunSamples {
    static let unitTestManifest = """
        {
            "Packages": {
                "backend": { "UniqueID": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "Debug": false },
                "frontend": { "SignerID": "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100", "ProductID": 44, "SecurityVersion": 3, "Debug": true }
            },
            "Infrastructures": {
                "Azure": { "QESVN": 2, "PCESVN": 3, "CPUSVN": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15], "RootCA": [3,3,3] },
                "Alibaba": { "QESVN": 2, "PCESVN": 4, "CPUSVN": [15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0], "RootCA": [4,4,4] }
            },
            "Marbles": {
                "backendFirst": {
                    "Package": "backend",
                    "MaxActivations": 1,
                    "Parameters": {
                        "Files": {
                            "/tmp/defg.txt": "foo",
                            "/tmp/jkl.mno": "bar",
                            "/tmp/base64.txt": { "Data": "TWFyYmxlUnVuIGJhc2U2NA==", "Encoding": "base64", "NoTemplates": true }
                        },
                        "Env": {
                            "IS_FIRST": "true",
                            "TEST_SECRET_SYMMETRIC_KEY": { "Data": "{{ hex .Secrets.symmetricKeyShared }}", "Encoding": "string" },
                            "TEST_SECRET_CERT": "{{ pem .Secrets.certShared.Cert }}",
                            "TEST_SECRET_PRIVATE_CERT": "{{ pem .Secrets.certPrivate.Cert }}"
                        },
                        "Argv": ["--first", "serve"]
                    },
                    "TLS": ["web"]
                },
                "backendOther": {
                    "Package": "backend",
                    "Parameters": {
                        "Env": {
                            "TEST_SECRET_CERT": "{{ pem .Secrets.certShared.Cert }}",
                            "TEST_SECRET_PRIVATE_CERT": "{{ pem .Secrets.certPrivate.Cert }}"
                        },
                        "Argv": ["serve"]
                    },
                    "TLS": ["web", "anotherWeb"]
                },
                "frontend": { "Package": "frontend" }
            },
            "Secrets": {
                "symmetricKeyShared": { "Size": 128, "Shared": true, "Type": "symmetric-key" },
                "symmetricKeyPrivate": { "Size": 256, "Type": "symmetric-key" },
                "certPrivate": { "Size": 2048, "Type": "cert-rsa", "Cert": { "Subject": { "CommonName": "MarbleRun Unit Test Private" } }, "ValidFor": 7 },
                "certShared": { "Shared": true, "Type": "cert-ed25519", "Cert": { "Subject": { "CommonName": "MarbleRun Unit Test Shared" } }, "ValidFor": 7 }
            },
            "TLS": {
                "web": {
                    "Outgoing": [ { "Port": "8080", "Addr": "localhost" }, { "Port": "4242", "Addr": "service.namespace" } ],
                    "Incoming": [ { "Port": "8080" } ]
                },
                "anotherWeb": {
                    "Outgoing": [ { "Port": "40000", "Addr": "example.com" } ],
                    "Incoming": [ { "Port": "8080", "Cert": "certShared", "DisableClientAuth": true } ]
                }
            },
            "Config": { "FeatureGates": [ "SignQuoteEndpoint" ] }
        }
        """

    /// The guide's sections; the guide elides certificates and keys ("MIIFPjCCA..."), so real ones are filled in.
    static func documentationManifest(alice: String, bob: String, recoveryKey: String) -> String {
        """
        {
            "Packages": {
                "backend": {
                    "UniqueID": "6b2822ac2585040d4b9397675d54977a71ef292ab5b3c0a6acceca26074ae585",
                    "Debug": false,
                    "AcceptedTCBStatuses": ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"],
                    "AcceptedAdvisories": ["INTEL-SA-00001"]
                },
                "frontend": {
                    "SignerID": "43361affedeb75affee9baec7e054a5e14883213e5a121b67d74a0e12e9d2b7a",
                    "ProductID": 43,
                    "SecurityVersion": 3,
                    "Debug": true
                }
            },
            "Marbles": {
                "backendFirst": {
                    "Package": "backend",
                    "MaxActivations": 1,
                    "Parameters": {
                        "Files": {
                            "/tmp/defg.txt": "foo",
                            "/tmp/jkl.mno": "bar",
                            "/tmp/pqr.ust": { "Data": "Zm9vCmJhcg==", "Encoding": "base64", "NoTemplates": true }
                        },
                        "Env": {
                            "IS_FIRST": "true",
                            "ROOT_CA": "{{ pem .MarbleRun.RootCA.Cert }}",
                            "MARBLE_CERT": "{{ pem .MarbleRun.MarbleCert.Cert }}",
                            "MARBLE_KEY": "{{ pem .MarbleRun.MarbleCert.Private }}"
                        },
                        "Argv": ["./backend", "--first", "serve"]
                    },
                    "TLS": ["backendFirstTLS"]
                },
                "frontend": {
                    "Package": "frontend",
                    "Parameters": {
                        "Env": {
                            "ROOT_CA": "{{ pem .MarbleRun.RootCA.Cert }}",
                            "MARBLE_CERT": "{{ pem .MarbleRun.MarbleCert.Cert }}",
                            "MARBLE_KEY": "{{ pem .MarbleRun.MarbleCert.Private }}",
                            "AES_KEY": "{{ hex .Secrets.secretAESKey }}",
                            "GENERIC": "{{ string .Secrets.genericSecret }}"
                        },
                        "Files": {
                            "/tls/rsa.crt": "{{ pem .Secrets.rsaCert.Cert }}",
                            "/tls/rsa.key": "{{ raw .Secrets.rsaCert.Private }}",
                            "/tls/rsa.pub": "{{ pem .Secrets.rsaCert.Public }}"
                        }
                    },
                    "TLS": ["frontendTLS1", "frontendTLS2"]
                }
            },
            "Secrets": {
                "secretAESKey": { "Type": "symmetric-key", "Size": 128, "Shared": true },
                "rsaCert": { "Type": "cert-rsa", "Size": 2048, "Shared": false, "ValidFor": 7, "Cert": { "Subject": { "CommonName": "MarbleRun Unit Test" } } },
                "secretKeyUnset": { "Type": "symmetric-key", "Size": 128, "UserDefined": true },
                "genericSecret": { "Type": "plain", "UserDefined": true },
                "frontendCert": {
                    "Type": "cert-ecdsa", "Size": 256, "Shared": true,
                    "Cert": {
                        "SignatureAlgorithm": 0,
                        "Subject": { "Country": null, "Organization": null, "OrganizationalUnit": null, "Locality": null, "Province": null, "StreetAddress": null, "PostalCode": null, "CommonName": "", "Names": null, "ExtraNames": null },
                        "NotAfter": "0001-01-01T00:00:00Z", "KeyUsage": 0, "ExtKeyUsage": null, "UnknownExtKeyUsage": null, "MaxPathLen": 0, "MaxPathLenZero": false,
                        "SubjectKeyId": null, "AuthorityKeyId": null, "OCSPServer": null, "IssuingCertificateURL": null, "DNSNames": null, "EmailAddresses": null,
                        "IPAddresses": null, "URIs": null, "PermittedDNSDomainsCritical": false, "PermittedDNSDomains": null, "ExcludedDNSDomains": null,
                        "PermittedIPRanges": null, "ExcludedIPRanges": null, "PermittedEmailAddresses": null, "ExcludedEmailAddresses": null,
                        "PermittedURIDomains": null, "ExcludedURIDomains": null, "CRLDistributionPoints": null, "PolicyIdentifiers": null
                    }
                }
            },
            "Users": {
                "alice": { "Certificate": \(jsonString(alice)), "Roles": ["secretManager", "updateFrontend", "updateManifest"] },
                "bob": { "Certificate": \(jsonString(bob)), "Roles": ["secretManager", "updateBackend", "updateManifest"] }
            },
            "Roles": {
                "updateFrontend": { "ResourceType": "Packages", "ResourceNames": ["frontend"], "Actions": ["UpdateSecurityVersion"] },
                "updateBackend": { "ResourceType": "Packages", "ResourceNames": ["backend"], "Actions": ["UpdateSecurityVersion"] },
                "secretManager": { "ResourceType": "Secrets", "ResourceNames": ["secretKeyUnset", "genericSecret"], "Actions": ["ReadSecret", "WriteSecret"] },
                "updateManifest": { "ResourceType": "Manifest", "Actions": ["UpdateManifest"] }
            },
            "RecoveryKeys": { "recoveryKey1": \(jsonString(recoveryKey)) },
            "TLS": {
                "frontendTLS1": {
                    "Outgoing": [ { "Port": "8080", "Addr": "service.name" }, { "Port": "4443", "Addr": "10.111.37.164" } ],
                    "Incoming": [ { "Port": "8443" }, { "Port": "8080", "Cert": "rsaCert", "DisableClientAuth": true } ]
                },
                "frontendTLS2": { "Incoming": [ { "Port": "9443", "Cert": "frontendCert", "DisableClientAuth": true } ] },
                "backendFirstTLS": { "Outgoing": [ { "Port": "8080", "Addr": "frontend" } ] }
            },
            "Config": { "SealMode": "ProductKey", "UpdateThreshold": 2, "FeatureGates": [], "RotateRootSecret": false }
        }
        """
    }

    /// The guide's manifest with freshly generated identities (made once).
    static let documentationManifest: String = {
        documentationManifest(
            alice: try! TestKeys.userCertificatePEM(commonName: "alice"), bob: try! TestKeys.userCertificatePEM(commonName: "bob"),
            recoveryKey: try! TestKeys.recoveryKeyPEM())
    }()

    /// The same guide sections written as YAML, as users hand them to the MarbleRun CLI.
    static let documentationYAML = """
        Packages:
          backend:
            UniqueID: 6b2822ac2585040d4b9397675d54977a71ef292ab5b3c0a6acceca26074ae585
            Debug: false
            AcceptedTCBStatuses: [UpToDate, SWHardeningNeeded]
        Marbles:
          backendFirst:
            Package: backend
            MaxActivations: 1
            Parameters:
              Files:
                /tmp/pqr.ust:
                  Data: Zm9vCmJhcg==
                  Encoding: base64
                  NoTemplates: true
                /tls/key.pem: |
                  {{ pem .Secrets.rsaCert.Private }}
              Env:
                IS_FIRST: "true"
                ROOT_CA: "{{ pem .MarbleRun.RootCA.Cert }}"
              Argv: [./backend, --first, serve]
        Secrets:
          rsaCert:
            Type: cert-rsa
            Size: 2048
            ValidFor: 7
            Cert:
              Subject:
                CommonName: MarbleRun Unit Test
        Config:
          SealMode: ProductKey
        """
}

@Suite struct MarbleRunSampleTests {
    @Test func unitTestManifestIsValidWithTheExpectedWarnings() throws {
        let manifest = try ManifestDocument.parse(Array(MarbleRunSamples.unitTestManifest.utf8))
        let report = manifest.validate()
        #expect(report.errors == [])
        #expect(report.warningPaths == ["Infrastructures", "Packages.frontend.Debug"])
        #expect(manifest.content.infrastructures["Azure"]?.cpuSVN == Array(0...15))
        #expect(manifest.content.infrastructures["Alibaba"]?.pceSVN == 4)
        let rendered = try manifest.renderParameters(forMarble: "backendFirst", input: RenderingFixtures.input(for: manifest))
        #expect(rendered.files["/tmp/base64.txt"] == Array("MarbleRun base64".utf8))
        #expect(rendered.env["TEST_SECRET_SYMMETRIC_KEY"].map { String(decoding: $0, as: UTF8.self) } == "030405060708090a0b0c0d0e0f101112")
        #expect(rendered.argv == ["--first", "serve"])
    }

    @Test func documentationManifestIsValid() throws {
        let manifest = try ManifestDocument.parse(Array(MarbleRunSamples.documentationManifest.utf8))
        let report = manifest.validate()
        #expect(report.errors == [])
        #expect(report.warningPaths == ["Packages.frontend.Debug"])
        #expect(manifest.manifestUpdaters == ["alice", "bob"])
        #expect(manifest.requiredUpdateAcknowledgements == 2)
        #expect(manifest.packageUpdaters(of: "frontend") == ["alice"])
        let certificate = try #require(manifest.secretsToGenerate.first { $0.name == "frontendCert" })
        guard case .certificate(let spec) = certificate.kind else {
            Issue.record("frontendCert is a certificate")
            return
        }
        #expect(spec.validity == .days(365))
        #expect(spec.keyUsage == 33)
        #expect(spec.extendedKeyUsage == [1, 2])
        #expect(spec.ipAddresses == [[127, 0, 0, 1], Array(repeating: 0, count: 15) + [1]])
        #expect(spec.subject.commonName == "localhost")
        let rendered = try manifest.renderParameters(forMarble: "frontend", input: RenderingFixtures.input(for: manifest))
        #expect(rendered.env["GENERIC"].map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("plain-") == true)
    }

    @Test func documentationYAMLIsValid() throws {
        let manifest = try ManifestDocument.parse(Array(MarbleRunSamples.documentationYAML.utf8))
        #expect(manifest.sourceFormat == .yaml)
        #expect(manifest.validate().errors == [])
        let rendered = try manifest.renderParameters(forMarble: "backendFirst", input: RenderingFixtures.input(for: manifest))
        #expect(rendered.files["/tmp/pqr.ust"] == Array("foo\nbar".utf8))
        #expect(String(decoding: rendered.files["/tls/key.pem"]!, as: UTF8.self).hasSuffix("-----END PRIVATE KEY-----\n\n"))
    }
}
