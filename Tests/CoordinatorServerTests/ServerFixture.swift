import AsyncHTTPClient
import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import CoordinatorServer
import Crypto
import Foundation
import Logging
import NIOCore
import NIOSSL
import Platform
import SealedStore
import SwiftASN1
import Synchronization
import TestSupport
import X509

/// A Coordinator on a simulated SGX machine with its state in a temporary directory, served over real TLS on
/// 127.0.0.1 (ports chosen by the system), and real clients for it.
final class ServerFixture: Sendable {
    let directory: URL
    let machine: SimulatedSGXMachine
    let coordinator: Coordinator
    let clientPort: Int
    let marblePort: Int
    let rootCertificatePEM: String
    private let serverTask: Task<Void, any Error>
    /// Every client made by ``client(_:)``, shut down by ``stop()``.
    private let clients = Mutex<[APIClient]>([])

    static let coordinatorEnclave = TestMeasurements.coordinator

    /// Starts a Coordinator and its servers. `directory` may hold the state of an earlier fixture (restart);
    /// `coordinatorEnclave` changes the sealing identity (a lost sealing key).
    static func start(
        directory: URL? = nil, coordinatorEnclave: EnclaveMeasurement = ServerFixture.coordinatorEnclave,
        startupManifest: [UInt8]? = nil, marbleIdleTimeout: Duration = .seconds(60)
    ) async throws -> ServerFixture {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-server-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: directory.appendingPathComponent("machine"))
        var logger = Logger(label: "coordinator-server-tests")
        logger.logLevel = .warning
        let configuration = CoordinatorConfiguration(
            platform: SimulatedPlatform(machine: machine, enclave: coordinatorEnclave, consent: .insecureSimulation(announce: { _ in })),
            quoteVerification: .simulated(machine),
            storage: try SQLiteStorage(directory: directory.appendingPathComponent("data")),
            logger: logger)
        let coordinator = try await Coordinator.start(configuration, startupManifest: startupManifest)
        let (ports, continuation) = AsyncStream.makeStream(of: (CoordinatorEndpoint, Int).self)
        let server = try await CoordinatorServer.make(
            coordinator: coordinator,
            configuration: CoordinatorServerConfiguration(
                clientAPI: ListenAddress(host: "127.0.0.1", port: 0), marbleAPI: ListenAddress(host: "127.0.0.1", port: 0),
                marbleIdleTimeout: marbleIdleTimeout, logger: logger, onListening: { continuation.yield(($0, $1)) }),
            metrics: CoordinatorMetrics(version: "test"))
        let task = Task { try await server.run() }
        var bound: [CoordinatorEndpoint: Int] = [:]
        for await (endpoint, port) in ports {
            bound[endpoint] = port
            if bound.count == 2 { break }
        }
        let identity = try await coordinator.tlsIdentity()
        return ServerFixture(
            directory: directory, machine: machine, coordinator: coordinator, clientPort: bound[.clientAPI]!,
            marblePort: bound[.marbleAPI]!, rootCertificatePEM: identity.rootCertificatePEM, serverTask: task)
    }

    private init(
        directory: URL, machine: SimulatedSGXMachine, coordinator: Coordinator, clientPort: Int, marblePort: Int,
        rootCertificatePEM: String, serverTask: Task<Void, any Error>
    ) {
        self.directory = directory
        self.machine = machine
        self.coordinator = coordinator
        self.clientPort = clientPort
        self.marblePort = marblePort
        self.rootCertificatePEM = rootCertificatePEM
        self.serverTask = serverTask
    }

    /// Starts a fixture, runs `body` with it and removes it (clients, servers, state), awaited also when `body` throws.
    static func run<Result>(
        directory: URL? = nil, coordinatorEnclave: EnclaveMeasurement = ServerFixture.coordinatorEnclave,
        startupManifest: [UInt8]? = nil, marbleIdleTimeout: Duration = .seconds(60), _ body: (ServerFixture) async throws -> Result
    ) async throws -> Result {
        let fixture = try await start(
            directory: directory, coordinatorEnclave: coordinatorEnclave, startupManifest: startupManifest, marbleIdleTimeout: marbleIdleTimeout)
        do {
            let result = try await body(fixture)
            await fixture.remove()
            return result
        } catch {
            await fixture.remove()
            throw error
        }
    }

    /// Shuts down the fixture's clients and stops the servers; the state directory stays for a restart.
    func stop() async {
        for client in clients.withLock({ $0 }) { await client.shutdown() }
        serverTask.cancel()
        _ = await serverTask.result
    }

    func remove() async {
        await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var clientURL: String { "https://127.0.0.1:\(clientPort)" }
    var marbleURL: String { "https://127.0.0.1:\(marblePort)" }

    func platform(_ enclave: EnclaveMeasurement) -> SimulatedPlatform {
        SimulatedPlatform(machine: machine, enclave: enclave, consent: .insecureSimulation(announce: { _ in }))
    }

    /// A client that pins the Coordinator's root and presents `identity` (if any) as its TLS client certificate.
    func client(_ identity: ClientIdentity? = nil) throws -> APIClient {
        let client = try APIClient(rootPEM: rootCertificatePEM, identity: identity)
        clients.withLock { $0.append(client) }
        return client
    }
}

/// A certificate and key a client presents over TLS.
struct ClientIdentity: Sendable {
    let certificateDER: [UInt8]
    let privateKeyPEM: String

    var certificatePEM: String { PEMDocument(type: "CERTIFICATE", derBytes: certificateDER).pemString }
}

/// An HTTPS client (AsyncHTTPClient) with the answers it got: status code and body bytes.
struct APIClient: Sendable {
    let http: HTTPClient

    struct Answer: Sendable {
        let status: Int
        let body: Data
        var contentType: String? = nil

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var jsendStatus: String? { json["status"] as? String }
        var failReason: String? { (json["data"] as? [String: Any])?["reason"] as? String }

        func data<Payload: Codable & Sendable>(_ type: Payload.Type) throws -> Payload {
            let envelope = try JSONDecoder().decode(JSend<Payload>.self, from: body)
            guard let data = envelope.data else { throw MissingData(body: String(decoding: body, as: UTF8.self)) }
            return data
        }
    }

    struct MissingData: Error { let body: String }

    init(rootPEM: String, identity: ClientIdentity?) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(rootPEM.utf8)))
        if let identity {
            tls.certificateChain = [.certificate(try NIOSSLCertificate(bytes: identity.certificateDER, format: .der))]
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func get(_ url: String) async throws -> Answer {
        try await send(HTTPClientRequest(url: url))
    }

    func post(_ url: String, json: some Encodable) async throws -> Answer {
        try await post(url, body: try JSONEncoder().encode(json))
    }

    func post(_ url: String, body: Data) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> Answer {
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(
            status: Int(response.status.code), body: Data(body.readableBytesView), contentType: response.headers.first(name: "Content-Type"))
    }

    func shutdown() async {
        try? await http.shutdown()
    }
}

/// The TLS identity a test user or marble presents.
extension TestUser {
    var identity: ClientIdentity { ClientIdentity(certificateDER: certificateDER, privateKeyPEM: privateKeyPEM) }
}

extension TestMarble {
    var identity: ClientIdentity { ClientIdentity(certificateDER: certificateDER, privateKeyPEM: privateKeyPEM) }
}
