import Attestation
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import TestSupport

/// One case of the shared corpus: the request a verifier would make and the collateral recorded for it.
struct CorpusCollateral: Sendable {
    let caseID: String
    let tee: String
    let fmspc: String
    let certificateAuthority: String
    let collateral: Collateral

    /// Every verification case in `corpus/dcap/corpus.json`, or nil when the shared data is absent.
    static func all() throws -> [CorpusCollateral]? {
        guard let directory = SharedData.directory("corpus/dcap") else { return nil }
        struct Manifest: Decodable {
            struct Case: Decodable {
                struct Files: Decodable { let collateral: String }
                struct PCK: Decodable {
                    let fmspc: String
                    let pck_ca: String
                }
                let id: String
                let tee: String
                let files: Files
                let pck: PCK
            }
            let cases: [Case]
        }
        let manifest = try JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("corpus.json")))
        return try manifest.cases.map { entry in
            let data = try Data(contentsOf: directory.appendingPathComponent(entry.files.collateral))
            return CorpusCollateral(
                caseID: entry.id, tee: entry.tee, fmspc: entry.pck.fmspc, certificateAuthority: entry.pck.pck_ca,
                collateral: try JSONDecoder().decode(Collateral.self, from: data))
        }
    }

    static func named(_ id: String) throws -> CorpusCollateral? {
        try all()?.first { $0.caseID == id }
    }

    static var corpusPath: String? {
        SharedData.directory("corpus/dcap")?.path
    }
}

/// What the local certification server does, to exercise each failure a real service can show.
enum ServerBehaviour: Sendable {
    case normal
    /// Waits this long before answering.
    case slow(Duration)
    /// Answers 200 with bytes that are no collateral at all.
    case garbage
    /// Answers without the issuer-chain headers.
    case missingIssuerChains
    /// Answers the endpoint ending in this path (e.g. `tcb`) with its proper headers but a damaged body.
    case damagedBody(endpoint: String)
    /// Answers every request with this status and Intel's error headers.
    case failing(status: Int)
}

/// A real HTTP server on 127.0.0.1 serving recorded collateral in the response shapes of Intel PCS v4, a PCCS and
/// Azure THIM, and counting the requests it gets.
actor CollateralServer {
    private(set) var requests: [String] = []
    private(set) var metadataHeaders: [String?] = []
    private let served: [CorpusCollateral]
    private let behaviour: ServerBehaviour

    init(serving served: [CorpusCollateral], behaviour: ServerBehaviour = .normal) {
        self.served = served
        self.behaviour = behaviour
    }

    func record(_ request: Request) {
        requests.append(request.uri.description)
        metadataHeaders.append(request.headers[.init("Metadata")!])
    }

    /// Runs the server for the duration of `body`, which gets its base URL (`http://127.0.0.1:<port>`, or `https://`
    /// when `tls` is given).
    func run<Result: Sendable>(tls: TLSConfiguration? = nil, _ body: @Sendable (String) async throws -> Result) async throws -> Result {
        let router = Router()
        router.get("**") { request, _ in
            await self.record(request)
            return try await self.respond(to: request)
        }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "collateral-test-server")
        // Cancelling the server at the end of a test is expected; its shutdown complaints are noise.
        quiet.logLevel = .critical
        let app = Application(
            router: router, server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = portStream.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else {
                group.cancelAll()
                throw CocoaError(.fileReadUnknown)
            }
            do {
                let result = try await body("\(tls == nil ? "http" : "https")://127.0.0.1:\(port)")
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    private func respond(to request: Request) async throws -> Response {
        switch behaviour {
        case .normal:
            break
        case .slow(let delay):
            try await Task.sleep(for: delay)
        case .garbage:
            return Self.response(.ok, body: Array("<html>gateway says hello</html>".utf8))
        case .failing(let status):
            return Self.response(
                HTTPResponse.Status(code: status), headers: ["Error-Code": "InternalError", "Error-Message": "simulated failure"],
                body: [])
        case .missingIssuerChains, .damagedBody:
            break
        }
        let omitChains: Bool
        if case .missingIssuerChains = behaviour { omitChains = true } else { omitChains = false }
        let path = request.uri.path
        let query = request.uri.queryParameters
        let isTHIM = query.get("clientid") != nil
        // The local THIM endpoint lives under /metadata/THIM and the others at the root.
        let relative = path.hasPrefix("/metadata/THIM") ? String(path.dropFirst("/metadata/THIM".count)) : path
        if relative == "/IntelSGXRootCA.der", let entry = served.first {
            return Self.response(.ok, body: entry.collateral.rootCACRL)
        }
        let parts = relative.split(separator: "/").map(String.init)
        guard parts.count >= 4, parts[1] == "certification", parts[2] == "v4" else {
            return Self.response(.notFound, body: [])
        }
        let tee = parts[0].uppercased()
        let endpoint = parts[3...].joined(separator: "/")
        let reply = respond(endpoint: endpoint, tee: tee, query: query, isTHIM: isTHIM, omitChains: omitChains)
        if case .damagedBody(let damaged) = behaviour, damaged == endpoint {
            // Keep the status and headers, cut the body in half: what a connection dropped mid-body leaves.
            return Self.response(reply.status, headers: reply.headers, body: Array(reply.body.prefix(reply.body.count / 2)))
        }
        return Self.response(reply.status, headers: reply.headers, body: reply.body)
    }

    private struct Reply {
        let status: HTTPResponse.Status
        let headers: [String: String]
        let body: [UInt8]

        init(_ status: HTTPResponse.Status, headers: [String: String] = [:], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    private func respond(endpoint: String, tee: String, query: Parameters, isTHIM: Bool, omitChains: Bool) -> Reply {
        func chainHeader(_ name: String, _ chain: String) -> [String: String] {
            omitChains ? [:] : [name: chain.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!]
        }
        switch endpoint {
        case "tcb":
            let fmspc = query.get("fmspc")?.uppercased() ?? ""
            guard let entry = served.first(where: { $0.tee == tee && $0.fmspc == fmspc }) else {
                return Reply(
                    .notFound, headers: ["Error-Code": "NotFound", "Error-Message": "No TCB Info for FMSPC \(fmspc)"],
                    body: [])
            }
            let body =
                Array(#"{"tcbInfo":"#.utf8) + entry.collateral.tcbInfo
                + Array(#","signature":"\#(entry.collateral.tcbInfoSignature.hexadecimal)"}"#.utf8)
            // Azure's SGX answers use the v3 header name; the client must accept both.
            let header = isTHIM && tee == "SGX" ? "SGX-TCB-Info-Issuer-Chain" : "TCB-Info-Issuer-Chain"
            return Reply(.ok, headers: chainHeader(header, entry.collateral.tcbInfoIssuerChain), body: body)
        case "qe/identity":
            guard let entry = served.first(where: { $0.tee == tee }) else { return Reply(.notFound, body: []) }
            // Pretty-printed around the signed object, as some caches do: only the inner bytes are signed.
            let body =
                Array("{\n  \"enclaveIdentity\" : ".utf8) + entry.collateral.qeIdentity
                + Array(",\n  \"signature\" : \"\(entry.collateral.qeIdentitySignature.hexadecimal)\"\n}\n".utf8)
            return Reply(
                .ok, headers: chainHeader("SGX-Enclave-Identity-Issuer-Chain", entry.collateral.qeIdentityIssuerChain),
                body: body)
        case "pckcrl":
            guard let entry = pckCRLEntry(query: query) else { return Reply(.notFound, body: []) }
            if query.get("uri")?.lowercased().contains("intelsgxrootca") == true {
                return Reply(
                    .ok, headers: chainHeader("SGX-PCK-CRL-Issuer-Chain", entry.collateral.pckCRLIssuerChain),
                    body: Self.pem(entry.collateral.rootCACRL))
            }
            let body = query.get("encoding") == "der" ? entry.collateral.pckCRL : Self.pem(entry.collateral.pckCRL)
            return Reply(
                .ok, headers: chainHeader("SGX-PCK-CRL-Issuer-Chain", entry.collateral.pckCRLIssuerChain), body: body)
        case "rootcacrl":
            guard let entry = served.first else { return Reply(.notFound, body: []) }
            // PCCS answers with hexadecimal text, not DER.
            return Reply(.ok, body: Array(entry.collateral.rootCACRL.hexadecimal.utf8))
        default:
            return Reply(.notFound, body: [])
        }
    }

    private func pckCRLEntry(query: Parameters) -> CorpusCollateral? {
        if let ca = query.get("ca") { return served.first { $0.certificateAuthority == ca.lowercased() } }
        if let uri = query.get("uri")?.lowercased() {
            if uri.contains("intelsgxrootca") { return served.first }
            let ca = uri.contains("processor") ? "processor" : "platform"
            return served.first { $0.certificateAuthority == ca }
        }
        return nil
    }

    private static func pem(_ der: [UInt8]) -> [UInt8] {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return Array("-----BEGIN X509 CRL-----\n\(base64)\n-----END X509 CRL-----\n".utf8)
    }

    private static func response(_ status: HTTPResponse.Status, headers: [String: String] = [:], body: [UInt8]) -> Response {
        var fields = HTTPFields()
        for (name, value) in headers { fields[.init(name)!] = value }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
