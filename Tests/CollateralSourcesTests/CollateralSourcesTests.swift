import Foundation
import TestSupport
import Testing

@testable import Attestation
@testable import CollateralSources

private let corpusAvailable = SharedData.directory("corpus/dcap") != nil
private let sgxCase = "sgx-v3-dcapqvl-sgx_quote-f8b81014"
private let tdxCase = "tdx-v4-dcapqvl-tdx_quote-c42f9164"

private func request(for entry: CorpusCollateral) throws -> CollateralRequest {
    try CollateralRequest(
        tee: TEEType(rawValue: entry.tee)!, fmspc: entry.fmspc,
        certificateAuthority: PCKCertificateAuthority(rawValue: entry.certificateAuthority)!)
}

/// The collateral a source assembles carries no PCK chain override; everything else must match the bundle.
private func withoutPCKChain(_ collateral: Collateral) -> Collateral {
    var copy = collateral
    copy.pckCertificateChain = nil
    return copy
}

private func cases(_ ids: String...) throws -> [CorpusCollateral] {
    try ids.map { id in try #require(try CorpusCollateral.named(id), "corpus case \(id) is missing") }
}

@Suite("HTTP collateral sources against a local server", .enabled(if: corpusAvailable, "\(SharedData.missingMessage("corpus/dcap"))"))
struct HTTPCollateralSourceTests {
    @Test("a PCCS serves every corpus case byte for byte")
    func pccsEveryCase() async throws {
        let all = try #require(try CorpusCollateral.all())
        for entry in all {
            let server = CollateralServer(serving: [entry])
            let fetched = try await server.run { base in
                try await PCCS(baseURL: base).collateral(for: try request(for: entry))
            }
            #expect(fetched == withoutPCKChain(entry.collateral), "case \(entry.caseID)")
            let log = await server.requests
            #expect(log.count == 4)
            #expect(log.contains { $0.hasSuffix("/sgx/certification/v4/rootcacrl") })
        }
    }

    @Test("Intel PCS: SGX and TDX paths, DER CRLs, root CA CRL from its distribution point")
    func intelPCS() async throws {
        for entry in try cases(sgxCase, tdxCase) {
            let server = CollateralServer(serving: [entry])
            let fetched = try await server.run { base in
                let pcs = try IntelPCS(baseURL: base, rootCACRLURL: base + "/IntelSGXRootCA.der")
                return try await pcs.collateral(for: try request(for: entry))
            }
            #expect(fetched == withoutPCKChain(entry.collateral))
            let tee = entry.tee.lowercased()
            let log = await server.requests
            #expect(
                log == [
                    "/sgx/certification/v4/pckcrl?ca=\(entry.certificateAuthority)&encoding=der",
                    "/IntelSGXRootCA.der",
                    "/\(tee)/certification/v4/tcb?fmspc=\(entry.fmspc)&update=standard",
                    "/\(tee)/certification/v4/qe/identity?update=standard",
                ])
        }
    }

    @Test("Azure THIM: global cache paths with api-version, PEM CRLs, v3 issuer-chain header")
    func azureTHIM() async throws {
        for entry in try cases(sgxCase, tdxCase) {
            let server = CollateralServer(serving: [entry])
            let fetched = try await server.run { base in
                try await AzureTHIM(baseURL: base).collateral(for: try request(for: entry))
            }
            #expect(fetched == withoutPCKChain(entry.collateral))
            let log = await server.requests
            #expect(log.count == 4)
            #expect(log.allSatisfy { $0.contains("clientid=production_client") })
            #expect(
                log.filter { $0.contains("/tcb?") || $0.contains("/qe/identity?") }
                    .allSatisfy { $0.contains("api-version=2018-10-01-preview") })
            if entry.tee == "SGX" {
                #expect(log[0].contains("pckcrl?uri=https%253a%252f%252f"))
                #expect(log[1].contains("intelsgxrootca.crl"))
            } else {
                #expect(log[1].hasPrefix("/sgx/certification/v4/rootcacrl?"))
            }
            #expect(await server.metadataHeaders.allSatisfy { $0 == nil })
        }
    }

    @Test("Azure THIM local endpoint sends Metadata: true under /metadata/THIM")
    func azureTHIMLocal() async throws {
        let entry = try cases(tdxCase)[0]
        let server = CollateralServer(serving: [entry])
        let fetched = try await server.run { base in
            try await AzureTHIM.local(baseURL: base + "/metadata/THIM").collateral(for: try request(for: entry))
        }
        #expect(fetched == withoutPCKChain(entry.collateral))
        #expect(await server.requests.allSatisfy { $0.hasPrefix("/metadata/THIM/") })
        #expect(await server.metadataHeaders == Array(repeating: "true", count: 4))
    }

    @Test("the cache serves repeats without requests and refetches at nextUpdate")
    func cacheHitsAndExpiry() async throws {
        let entry = try cases(sgxCase)[0]
        let validity = try CollateralValidity(of: entry.collateral)
        let expiry = validity.earliestNextUpdate
        let server = CollateralServer(serving: [entry])
        try await server.run { base in
            let source = try PCCS(baseURL: base)
            let cache = CollateralCache()
            let request = try request(for: entry)
            let before = expiry.addingTimeInterval(-3600)
            _ = try await cache.collateral(for: request, from: source, at: before)
            _ = try await cache.collateral(for: request, from: source, at: before)
            _ = try await cache.collateral(for: request, from: source, at: expiry.addingTimeInterval(-1))
            #expect(await server.requests.count == 4)
            #expect(await cache.statistics == .init(hits: 2, fetches: 1))
            _ = try await cache.collateral(for: request, from: source, at: expiry)
            #expect(await server.requests.count == 8)
            #expect(await cache.statistics == .init(hits: 2, fetches: 2))
        }
        // The PCK CRL of this case expires first; the cache must honour the earliest of the four.
        #expect(
            expiry
                == [
                    validity.tcbInfoNextUpdate, validity.qeIdentityNextUpdate, validity.pckCRLNextUpdate,
                    validity.rootCACRLNextUpdate,
                ].min())
    }

    @Test("concurrent misses for one key share a single fetch")
    func concurrentMisses() async throws {
        let entry = try cases(tdxCase)[0]
        let instant = try CollateralValidity(of: entry.collateral).earliestNextUpdate.addingTimeInterval(-60)
        let server = CollateralServer(serving: [entry], behaviour: .slow(.milliseconds(200)))
        try await server.run { base in
            let source = try PCCS(baseURL: base)
            let cache = CollateralCache()
            let request = try request(for: entry)
            let results = try await withThrowingTaskGroup(of: Collateral.self) { group in
                for _ in 0..<8 { group.addTask { try await cache.collateral(for: request, from: source, at: instant) } }
                return try await group.reduce(into: [Collateral]()) { $0.append($1) }
            }
            #expect(results.count == 8)
            #expect(results.allSatisfy { $0 == withoutPCKChain(entry.collateral) })
            #expect(await server.requests.count == 4)
            #expect(await cache.statistics == .init(hits: 7, fetches: 1))
        }
    }

    @Test("cache keys separate sources, TEE types, FMSPCs and CAs")
    func cacheKeys() async throws {
        let (sgx, tdx) = try (cases(sgxCase)[0], cases(tdxCase)[0])
        let server = CollateralServer(serving: [sgx, tdx])
        try await server.run { base in
            let pccs = try PCCS(baseURL: base)
            let thim = try AzureTHIM(baseURL: base)
            let cache = CollateralCache()
            let instant = try CollateralValidity(of: sgx.collateral).earliestNextUpdate.addingTimeInterval(-60)
            let sgxFromPCCS = try await cache.collateral(for: try request(for: sgx), from: pccs, at: instant)
            let tdxFromPCCS = try await cache.collateral(for: try request(for: tdx), from: pccs, at: instant)
            _ = try await cache.collateral(for: try request(for: sgx), from: thim, at: instant)
            #expect(sgxFromPCCS.tcbInfo == sgx.collateral.tcbInfo)
            #expect(tdxFromPCCS.tcbInfo == tdx.collateral.tcbInfo)
            #expect(await cache.statistics.fetches == 3)
        }
    }

    @Test("offline mode serves cached collateral only and says when it has none")
    func offlineMode() async throws {
        let entry = try cases(sgxCase)[0]
        let expiry = try CollateralValidity(of: entry.collateral).earliestNextUpdate
        let server = CollateralServer(serving: [entry])
        try await server.run { base in
            let source = try PCCS(baseURL: base)
            let cache = CollateralCache()
            let request = try request(for: entry)
            let instant = expiry.addingTimeInterval(-60)
            let missing = await #expect(throws: CollateralSourceError.self) {
                try await cache.collateral(for: request, from: source, at: instant, mode: .offline)
            }
            #expect(missing == .offlineNotCached(source: source.identity, request: request))
            #expect("\(missing!)".contains("no cached collateral"))
            #expect(await server.requests.isEmpty)

            _ = try await cache.collateral(for: request, from: source, at: instant)
            let served = try await cache.collateral(for: request, from: source, at: instant, mode: .offline)
            #expect(served == withoutPCKChain(entry.collateral))
            #expect(await server.requests.count == 4)

            let expired = await #expect(throws: CollateralSourceError.self) {
                try await cache.collateral(for: request, from: source, at: expiry, mode: .offline)
            }
            #expect("\(expired!)".contains("expired"))
            #expect(await server.requests.count == 4)
        }
    }

    @Test("an unknown FMSPC is a 404 that names the FMSPC and Intel's error headers")
    func unknownFMSPC() async throws {
        let entry = try cases(sgxCase)[0]
        let server = CollateralServer(serving: [entry])
        let error = try await server.run { base in
            await #expect(throws: CollateralSourceError.self) {
                try await PCCS(baseURL: base).collateral(
                    for: try CollateralRequest(tee: .sgx, fmspc: "00112233AABB", certificateAuthority: .processor))
            }
        }
        guard case .fmspcUnknown(_, let request, let code, let message)? = error else {
            Issue.record("expected fmspcUnknown, got \(String(describing: error))")
            return
        }
        #expect(request.fmspc == "00112233AABB")
        #expect(code == "NotFound")
        #expect(message?.contains("00112233AABB") == true)
        #expect("\(error!)".contains("has no TCB Info for SGX FMSPC 00112233AABB"))
    }

    @Test("a server that is down gives an error naming the URL")
    func serverDown() async throws {
        let entry = try cases(sgxCase)[0]
        // Take a port that was just free and is closed again.
        let base = try await CollateralServer(serving: [entry]).run { $0 }
        let error = await #expect(throws: CollateralSourceError.self) {
            try await PCCS(baseURL: base).collateral(for: try request(for: entry))
        }
        guard case .unreachable(let url, let reason)? = error else {
            Issue.record("expected unreachable, got \(String(describing: error))")
            return
        }
        #expect(url.hasPrefix(base + "/sgx/certification/v4/pckcrl"))
        #expect(reason.contains("refused"))
        #expect("\(error!)".contains("could not connect to \(base)"))
    }

    @Test("a slow server runs into the timeout")
    func slowServer() async throws {
        let entry = try cases(sgxCase)[0]
        let server = CollateralServer(serving: [entry], behaviour: .slow(.seconds(5)))
        let error = try await server.run { base in
            await #expect(throws: CollateralSourceError.self) {
                try await PCCS(baseURL: base, http: HTTPFetchSettings(timeout: .milliseconds(300)))
                    .collateral(for: try request(for: entry))
            }
        }
        guard case .timedOut(let url, let seconds)? = error else {
            Issue.record("expected timedOut, got \(String(describing: error))")
            return
        }
        #expect(url.contains("/pckcrl"))
        #expect(seconds == 0.3)
        #expect("\(error!)".contains("did not answer within 0.3 s"))
    }

    @Test("garbage bodies, missing headers and error statuses are reported as such")
    func garbageAndErrors() async throws {
        let entry = try cases(tdxCase)[0]
        let garbage = try await CollateralServer(serving: [entry], behaviour: .garbage).run { base in
            await #expect(throws: CollateralSourceError.self) {
                try await PCCS(baseURL: base).collateral(for: try request(for: entry))
            }
        }
        guard case .missingHeader(_, let header)? = garbage else {
            Issue.record("expected missingHeader for the garbage PCK CRL answer, got \(String(describing: garbage))")
            return
        }
        #expect(header == "SGX-PCK-CRL-Issuer-Chain")

        let missing = try await CollateralServer(serving: [entry], behaviour: .missingIssuerChains).run { base in
            await #expect(throws: CollateralSourceError.self) {
                try await IntelPCS(baseURL: base, rootCACRLURL: base + "/IntelSGXRootCA.der")
                    .collateral(for: try request(for: entry))
            }
        }
        #expect("\(missing!)".contains("lacks the 'SGX-PCK-CRL-Issuer-Chain' header"))

        let expectations = [
            ("pckcrl", "a certificate revocation list"), ("rootcacrl", "a certificate revocation list"),
            ("tcb", "TCB Info JSON"), ("qe/identity", "QE Identity JSON"),
        ]
        for (endpoint, expected) in expectations {
            let damaged = try await CollateralServer(serving: [entry], behaviour: .damagedBody(endpoint: endpoint)).run { base in
                await #expect(throws: CollateralSourceError.self) {
                    try await PCCS(baseURL: base).collateral(for: try request(for: entry))
                }
            }
            guard case .malformedBody(let url, let what, _)? = damaged else {
                Issue.record("expected malformedBody for a damaged \(endpoint) body, got \(String(describing: damaged))")
                continue
            }
            #expect(url.contains("/\(endpoint)"))
            #expect(what.contains(expected))
        }

        let failing = try await CollateralServer(serving: [entry], behaviour: .failing(status: 503)).run { base in
            await #expect(throws: CollateralSourceError.self) {
                try await AzureTHIM(baseURL: base).collateral(for: try request(for: entry))
            }
        }
        guard case .httpStatus(_, 503, "InternalError", "simulated failure")? = failing else {
            Issue.record("expected HTTP 503 with Intel error headers, got \(String(describing: failing))")
            return
        }
        #expect("\(failing!)".contains("answered HTTP 503, expected 200; Error-Code: InternalError"))
    }
}

@Suite("Signed JSON splitting")
struct SignedJSONTests {
    private let signature = String(repeating: "ab", count: 64)

    @Test("the signed object is cut out byte for byte, whatever surrounds it")
    func exactBytes() throws {
        let inner = #"{"id":"QE","version":2,"tcbLevels":[{"tcb":{"isvsvn":8},"note":"a \"quoted\" } brace"}],"x":1.5e3}"#
        for body in [
            #"{"enclaveIdentity":\#(inner),"signature":"\#(signature)"}"#,
            "\n{ \"signature\" : \"\(signature)\" ,\n \"enclaveIdentity\" :\t\(inner) }\n",
        ] {
            let split = try SignedJSONResponse(body: Array(body.utf8), signedKey: "enclaveIdentity")
            #expect(split.signedBytes == Array(inner.utf8))
            #expect(split.signature == [UInt8](repeating: 0xab, count: 64))
        }
    }

    @Test(
        "malformed responses are rejected with the reason",
        arguments: [
            ("", "expected a JSON object"),
            ("<html></html>", "expected a JSON object"),
            (#"{"tcbInfo":{"a":1}}"#, "no 'signature' member"),
            (#"{"signature":"00"}"#, "no 'tcbInfo' member"),
            (#"{"tcbInfo":"text","signature":"00"}"#, "is not a JSON object"),
            (#"{"tcbInfo":{"a":1},"signature":"zz"}"#, "not a hexadecimal string"),
            (#"{"tcbInfo":{"a":1},"signature":"0011"}"#, "is 2 bytes, expected 64"),
            (#"{"tcbInfo":{"a":1,},"signature":"00"}"#, "at byte"),
            (#"{"tcbInfo":{"a":1}"#, "the object is not closed at byte 18 of 18"),
            (#"{"tcbInfo":{"a":1} "signature":"00"}"#, "expected ',' or '}'"),
            (#"{"tcbInfo":{"a":"unterminated}}"#, "unterminated string"),
            (#"{"tcbInfo":{"a":1}} trailing"#, "unexpected text after the JSON value"),
        ])
    func malformed(body: String, reason: String) {
        #expect(throws: SignedJSONResponse.Malformed.self) { try SignedJSONResponse(body: Array(body.utf8), signedKey: "tcbInfo") }
        do {
            _ = try SignedJSONResponse(body: Array(body.utf8), signedKey: "tcbInfo")
        } catch {
            #expect(error.reason.contains(reason), "got: \(error.reason)")
        }
    }
}

@Suite("Collateral bundle files and requests")
struct BundleFileTests {
    @Test("FMSPC must be six bytes of hexadecimal")
    func fmspcValidation() throws {
        #expect(try CollateralRequest(tee: .sgx, fmspc: "00a067110000", certificateAuthority: .processor).fmspc == "00A067110000")
        #expect(
            try CollateralRequest(tee: .tdx, fmspc: [0x00, 0x80, 0x6f, 0x05, 0x00, 0x00], certificateAuthority: .platform)
                .fmspc == "00806F050000")
        for bad in ["", "00A0671100", "00A06711000G", "00A067110000FF"] {
            #expect(throws: CollateralSourceError.invalidFMSPC(bad)) {
                try CollateralRequest(tee: .sgx, fmspc: bad, certificateAuthority: .processor)
            }
        }
    }

    @Test("invalid base URLs are refused up front")
    func invalidBaseURL() {
        #expect(throws: CollateralSourceError.self) { try PCCS(baseURL: "pccs.local:8081") }
        #expect(throws: CollateralSourceError.self) { try IntelPCS(baseURL: "ftp://example.com") }
        #expect(throws: CollateralSourceError.self) { try AzureTHIM(clientID: "bad id&x=1") }
    }

    @Test("a bundle file serves its own platform and refuses others", .enabled(if: corpusAvailable, "\(SharedData.missingMessage("corpus/dcap"))"))
    func bundleFile() async throws {
        let entry = try cases(sgxCase)[0]
        let path = try #require(CorpusCollateral.corpusPath) + "/corpus/\(sgxCase)/collateral.json"
        let source = CollateralBundleFile(path: path)
        #expect(try await source.collateral(for: try request(for: entry)) == entry.collateral)
        let other = try CollateralRequest(tee: .tdx, fmspc: entry.fmspc, certificateAuthority: .processor)
        let error = await #expect(throws: CollateralSourceError.self) { try await source.collateral(for: other) }
        #expect("\(error!)".contains("is for SGX FMSPC 00A067110000, but the quote needs TDX FMSPC 00A067110000"))
    }

    @Test("missing and malformed bundle files are named with the reason")
    func badBundleFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-bundle-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("absent.json").path
        #expect(throws: CollateralSourceError.bundleUnreadable(path: missing, reason: "no such file")) {
            try CollateralBundleFile(path: missing).load()
        }
        let garbage = directory.appendingPathComponent("garbage.json")
        try Data("\u{7f}ELF garbage".utf8).write(to: garbage)
        let notJSON = #expect(throws: CollateralSourceError.self) { try CollateralBundleFile(path: garbage.path).load() }
        #expect("\(notJSON!)".contains("it is not JSON"))
        let partial = directory.appendingPathComponent("partial.json")
        try Data(#"{"pck_crl_issuer_chain":"x"}"#.utf8).write(to: partial)
        let incomplete = #expect(throws: CollateralSourceError.self) { try CollateralBundleFile(path: partial.path).load() }
        #expect("\(incomplete!)".contains("is missing"))
    }
}
