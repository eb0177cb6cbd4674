import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import StrictJSON

/// Talks the distribution API (v2) to registries: manifests, blobs, uploads, mounts, and the authentication they
/// ask for. One client serves any number of registries and copies at once; shut it down when done
/// (`withRegistryClient` does).
public final class RegistryClient: Sendable {
    public struct Options: Sendable {
        /// Use `http://` instead of `https://`; allowed only for registries on this machine.
        public var plainHTTP: Bool
        public var credentials: CredentialStore
        public var uploadMode: UploadMode
        /// Time allowed for a request without a large body (manifests, HEAD, upload start, tokens).
        public var requestTimeout: Duration
        public var logger: Logger

        public init(
            plainHTTP: Bool = false, credentials: CredentialStore = CredentialStore(), uploadMode: UploadMode = .automatic,
            requestTimeout: Duration = .seconds(60), logger: Logger = Logger(label: "cloister.oci.registry")
        ) {
            self.plainHTTP = plainHTTP
            self.credentials = credentials
            self.uploadMode = uploadMode
            self.requestTimeout = requestTimeout
            self.logger = logger
        }
    }

    public enum UploadMode: Sendable, Hashable {
        /// One PUT with the whole blob when its digest is known in advance; chunks of 16 MiB otherwise (the digest
        /// must be in the final request, and is known only after the last byte).
        case automatic
        /// PATCH requests of `chunkSize` bytes with `Content-Range`, then a PUT with the digest: for registries or
        /// proxies that limit the size of one request.
        case chunked(chunkSize: Int)
    }

    let options: Options
    let http: HTTPClient
    let authorizations = AuthorizationCache()

    public init(options: Options = Options()) {
        self.options = options
        var configuration = HTTPClient.Configuration()
        // Redirects are followed by hand: blob downloads are redirected to storage hosts, which must not see the
        // registry's Authorization header.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(30), read: .seconds(120))
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// A source for the image `reference` names.
    public func source(_ reference: RegistryReference) -> RegistrySource {
        RegistrySource(client: self, reference: reference)
    }

    /// A destination in the repository `reference` names (its tag is the caller's to write last).
    public func destination(_ reference: RegistryReference) -> RegistryDestination {
        RegistryDestination(client: self, repository: RegistryRepository(host: reference.host, repository: reference.repository))
    }

    // MARK: Distribution API operations

    func manifest(
        _ repository: RegistryRepository, reference: String
    ) async throws(ImageTransferError) -> (bytes: [UInt8], mediaType: MediaType?, digestHeader: String?, url: String) {
        let url = try baseURL(repository) + "/v2/\(repository.repository)/manifests/\(reference)"
        var request = RegistryRequest(
            method: .GET, url: url, scopes: [AccessScope(repository: repository.repository, push: false)],
            operation: operation(repository, "GET manifest \(reference)", url))
        request.headers.add(name: "Accept", value: MediaType.acceptedManifestTypes.map(\.rawValue).joined(separator: ", "))
        let response = try await send(request)
        guard response.status == .ok else { throw await failure(response, request.operation) }
        let bytes = try await collect(response, limit: maximumManifestBytes, what: "manifest", operation: request.operation)
        return (bytes, response.headers.first(name: "Content-Type").map { MediaType($0) }, response.headers.first(name: "Docker-Content-Digest"), url)
    }

    func blobExists(_ repository: RegistryRepository, digest: ContentDigest, push: Bool) async throws(ImageTransferError) -> Bool {
        let url = try baseURL(repository) + "/v2/\(repository.repository)/blobs/\(digest)"
        let request = RegistryRequest(
            method: .HEAD, url: url, scopes: [AccessScope(repository: repository.repository, push: push)],
            operation: operation(repository, "HEAD blob \(digest)", url))
        let response = try await send(request)
        switch response.status {
        case .ok: return true
        case .notFound: return false
        default: throw await failure(response, request.operation)
        }
    }

    func blob(_ repository: RegistryRepository, descriptor: Descriptor) async throws(ImageTransferError) -> BlobStream {
        let url = try baseURL(repository) + "/v2/\(repository.repository)/blobs/\(descriptor.digest)"
        var request = RegistryRequest(
            method: .GET, url: url, scopes: [AccessScope(repository: repository.repository, push: false)],
            operation: operation(repository, "GET blob \(descriptor.digest)", url))
        request.followsRedirects = true
        request.deadline = .distantFuture
        let response = try await send(request)
        guard response.status == .ok else { throw await failure(response, request.operation) }
        return BlobStream(origin: "\(repository)@\(descriptor.digest) (\(response.url))", length: descriptor.size, base: response.body)
    }

    /// Asks the registry to link `digest` from `source` into `repository`.
    func mount(_ repository: RegistryRepository, digest: ContentDigest, from source: RegistryRepository) async throws(ImageTransferError) -> Bool {
        let query = "?mount=\(Self.queryEscaped(digest.description))&from=\(Self.queryEscaped(source.repository))"
        let url = try baseURL(repository) + "/v2/\(repository.repository)/blobs/uploads/" + query
        let request = RegistryRequest(
            method: .POST, url: url,
            scopes: [AccessScope(repository: repository.repository, push: true), AccessScope(repository: source.repository, push: false)],
            operation: operation(repository, "POST blob mount of \(digest) from \(source.repository)", url))
        let response = try await send(request)
        switch response.status {
        case .created:
            return true
        case .accepted:
            // The registry opened an ordinary upload instead. Cancelling it is a courtesy (abandoned uploads
            // expire anyway), so its failure does not fail the copy.
            if let location = response.headers.first(name: "Location"), let uploadURL = try? resolve(location, in: repository) {
                let cancel = RegistryRequest(
                    method: .DELETE, url: uploadURL, scopes: request.scopes,
                    operation: operation(repository, "DELETE unused upload", uploadURL))
                _ = try? await send(cancel)
            }
            return false
        default:
            throw await failure(response, request.operation)
        }
    }

    func upload(
        _ repository: RegistryRepository, stream: BlobStream, expected: ContentDigest?, progress: TransferProgress?
    ) async throws(ImageTransferError) -> StoredBlob {
        let scopes = [AccessScope(repository: repository.repository, push: true)]
        let startURL = try baseURL(repository) + "/v2/\(repository.repository)/blobs/uploads/"
        let start = RegistryRequest(method: .POST, url: startURL, scopes: scopes, operation: operation(repository, "POST blob upload", startURL))
        let started = try await send(start)
        guard started.status == .accepted else { throw await failure(started, start.operation) }
        var location = try uploadLocation(started, start.operation, repository)
        switch (options.uploadMode, expected) {
        case (.automatic, let digest?):
            let url = Self.appending(digest: digest, to: location)
            var put = RegistryRequest(method: .PUT, url: url, scopes: scopes, operation: operation(repository, "PUT blob \(digest)", url))
            let checked = stream.verified(digest: digest, size: stream.length) { progress?(.uploaded(digest, bytes: $0)) }
            put.body = .stream(checked)
            put.deadline = .distantFuture
            let response = try await send(put)
            guard response.status == .created else { throw await failure(response, put.operation) }
            return StoredBlob(digest: digest, size: try await storedSize(repository, digest: digest, known: stream.length))
        case (.automatic, nil):
            return try await uploadChunked(repository, stream: stream, expected: nil, location: &location, chunkSize: 16 << 20, progress: progress)
        case (.chunked(let chunkSize), _):
            return try await uploadChunked(
                repository, stream: stream, expected: expected, location: &location, chunkSize: max(chunkSize, 1), progress: progress)
        }
    }

    private func uploadChunked(
        _ repository: RegistryRepository, stream: BlobStream, expected: ContentDigest?, location: inout String, chunkSize: Int,
        progress: TransferProgress?
    ) async throws(ImageTransferError) -> StoredBlob {
        let scopes = [AccessScope(repository: repository.repository, push: true)]
        var accumulator = DigestAccumulator()
        var pending = ByteBuffer()
        var offset: Int64 = 0
        func send(_ chunk: ByteBuffer) async throws(ImageTransferError) {
            var patch = RegistryRequest(
                method: .PATCH, url: location, scopes: scopes, operation: operation(repository, "PATCH blob upload", location))
            patch.headers.add(name: "Content-Type", value: "application/octet-stream")
            patch.headers.add(name: "Content-Range", value: "\(offset)-\(offset + Int64(chunk.readableBytes) - 1)")
            patch.body = .bytes(chunk)
            patch.deadline = .distantFuture
            let response = try await self.send(patch)
            guard response.status == .accepted else { throw await failure(response, patch.operation) }
            location = try uploadLocation(response, patch.operation, repository)
            offset += Int64(chunk.readableBytes)
            if let expected { progress?(.uploaded(expected, bytes: offset)) }
        }
        for try await chunk in stream {
            accumulator.update(chunk)
            pending.writeImmutableBuffer(chunk)
            while pending.readableBytes >= chunkSize {
                try await send(pending.readSlice(length: chunkSize)!)
            }
            pending.discardReadBytes()
        }
        if pending.readableBytes > 0 { try await send(pending) }
        let digest = accumulator.finalize()
        if let expected, expected != digest {
            throw .digestMismatch(location: stream.origin, expected: expected, found: digest)
        }
        let url = Self.appending(digest: digest, to: location)
        let put = RegistryRequest(method: .PUT, url: url, scopes: scopes, operation: operation(repository, "PUT blob \(digest) (upload end)", url))
        let response = try await self.send(put)
        guard response.status == .created else { throw await failure(response, put.operation) }
        return StoredBlob(digest: digest, size: accumulator.byteCount)
    }

    /// The blob's size after a monolithic upload whose length was not known beforehand.
    private func storedSize(_ repository: RegistryRepository, digest: ContentDigest, known: Int64?) async throws(ImageTransferError) -> Int64 {
        if let known { return known }
        let url = try baseURL(repository) + "/v2/\(repository.repository)/blobs/\(digest)"
        let request = RegistryRequest(
            method: .HEAD, url: url, scopes: [AccessScope(repository: repository.repository, push: true)],
            operation: operation(repository, "HEAD blob \(digest)", url))
        let response = try await send(request)
        guard response.status == .ok, let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }) else {
            throw .protocolViolation(operation: request.operation, reason: "the uploaded blob has no Content-Length (HTTP \(response.status.code))")
        }
        return length
    }

    func putManifest(_ repository: RegistryRepository, reference: String, bytes: [UInt8], mediaType: MediaType) async throws(ImageTransferError) {
        let url = try baseURL(repository) + "/v2/\(repository.repository)/manifests/\(reference)"
        var request = RegistryRequest(
            method: .PUT, url: url, scopes: [AccessScope(repository: repository.repository, push: true)],
            operation: operation(repository, "PUT manifest \(reference)", url))
        request.headers.add(name: "Content-Type", value: mediaType.rawValue)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await send(request)
        guard response.status == .created else { throw await failure(response, request.operation) }
        let digest = ContentDigest.of(bytes)
        if let stored = response.headers.first(name: "Docker-Content-Digest"), stored != digest.description {
            throw .protocolViolation(operation: request.operation, reason: "the registry stored the manifest as \(stored), expected \(digest)")
        }
    }

    // MARK: Requests, authentication and errors

    struct RegistryRequest {
        enum Body {
            case none
            case bytes(ByteBuffer)
            /// Sent once: a request with this body is not retried after a 401.
            case stream(BlobStream)
        }

        var method: HTTPMethod
        var url: String
        var headers = HTTPHeaders()
        var body = Body.none
        var scopes: [AccessScope]
        var operation: RegistryOperation
        var followsRedirects = false
        var deadline: NIODeadline?

        init(method: HTTPMethod, url: String, scopes: [AccessScope], operation: RegistryOperation) {
            self.method = method
            self.url = url
            self.scopes = scopes
            self.operation = operation
        }
    }

    struct RegistryResponse {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: HTTPClientResponse.Body
        let url: String
        /// Who the request was sent as, for messages about refusals.
        let credentials: RegistryCredentials?
    }

    private func operation(_ repository: RegistryRepository, _ action: String, _ url: String) -> RegistryOperation {
        RegistryOperation(host: repository.host, repository: repository.repository, action: action, url: url)
    }

    func baseURL(_ repository: RegistryRepository) throws(ImageTransferError) -> String {
        let endpoint = repository.host == RegistryReference.dockerHubName ? RegistryReference.dockerHubEndpoint : repository.host
        if options.plainHTTP {
            guard Self.isLoopback(endpoint) else { throw .plainHTTPRefused(host: repository.host) }
            return "http://" + endpoint
        }
        return "https://" + endpoint
    }

    static func isLoopback(_ hostAndPort: String) -> Bool {
        var host = Substring(hostAndPort)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]
            return host == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host == "localhost" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Sends `request`, answering a 401 challenge once (when the body can be sent again) and following redirects
    /// when asked; the registry's Authorization goes only to the registry's own host.
    func send(_ request: RegistryRequest) async throws(ImageTransferError) -> RegistryResponse {
        let host = request.operation.host
        var authorization = await authorizations.header(host: host, scopes: request.scopes)
        var credentials: RegistryCredentials?
        if authorization == nil, let challenge = await authorizations.challenge(host: host) {
            (authorization, credentials) = try await authorize(challenge, scopes: request.scopes, operation: request.operation)
        }
        var response = try await execute(request, url: request.url, authorization: authorization)
        if response.status == .unauthorized, !request.isStreamed,
            let challenge = response.headers.first(name: "WWW-Authenticate").flatMap(AuthenticationChallenge.init(header:))
        {
            await authorizations.store(challenge: challenge, host: host)
            await authorizations.forget(host: host, scopes: request.scopes)
            (authorization, credentials) = try await authorize(challenge, scopes: request.scopes, operation: request.operation)
            if authorization != nil {
                response = try await execute(request, url: request.url, authorization: authorization)
            }
        }
        var url = request.url
        var redirects = 0
        let redirectStatuses: Set<UInt> = [301, 302, 303, 307, 308]
        while request.followsRedirects, redirectStatuses.contains(response.status.code), let location = response.headers.first(name: "Location") {
            redirects += 1
            guard redirects <= 5 else {
                throw .protocolViolation(operation: request.operation, reason: "more than 5 redirects, the last to \(location)")
            }
            let target = Self.resolve(location, against: url)
            let sameHost = Self.origin(of: target) == Self.origin(of: request.url)
            url = target
            response = try await execute(request, url: target, authorization: sameHost ? authorization : nil)
        }
        return RegistryResponse(status: response.status, headers: response.headers, body: response.body, url: url, credentials: credentials)
    }

    private func execute(_ request: RegistryRequest, url: String, authorization: String?) async throws(ImageTransferError) -> HTTPClientResponse {
        var http = HTTPClientRequest(url: url)
        http.method = request.method
        http.headers = request.headers
        if let authorization { http.headers.replaceOrAdd(name: "Authorization", value: authorization) }
        switch request.body {
        case .none:
            if request.method == .POST || request.method == .PUT { http.headers.replaceOrAdd(name: "Content-Length", value: "0") }
        case .bytes(let buffer):
            http.body = .bytes(buffer)
        case .stream(let stream):
            http.body = .stream(stream, length: stream.length.map { .known($0) } ?? .unknown)
        }
        let deadline = request.deadline ?? .now() + .nanoseconds(Int64(options.requestTimeout.components.seconds) * 1_000_000_000)
        options.logger.debug("registry request", metadata: ["method": "\(request.method)", "url": "\(url)"])
        do {
            return try await self.http.execute(http, deadline: deadline, logger: options.logger)
        } catch let error as ImageTransferError {
            throw error
        } catch {
            throw .unreachable(operation: request.operation, reason: Self.describe(error))
        }
    }

    /// The Authorization header answering `challenge` for `scopes`, and the credentials it used; nil when the
    /// challenge asks for credentials that no auth file has.
    private func authorize(
        _ challenge: AuthenticationChallenge, scopes: [AccessScope], operation: RegistryOperation
    ) async throws(ImageTransferError) -> (String?, RegistryCredentials?) {
        let credentials = try options.credentials.credentials(host: operation.host, repository: operation.repository)
        switch challenge.scheme {
        case "basic":
            guard let credentials else { return (nil, nil) }
            await authorizations.store(header: credentials.basicAuthorization, host: operation.host, scopes: scopes, lifetime: nil)
            return (credentials.basicAuthorization, credentials)
        case "bearer":
            let token = try await requestToken(challenge, scopes: scopes, credentials: credentials, operation: operation)
            let header = "Bearer " + token.value
            await authorizations.store(header: header, host: operation.host, scopes: scopes, lifetime: token.lifetime)
            return (header, credentials)
        default:
            throw .protocolViolation(
                operation: operation, reason: "the registry asks for '\(challenge.scheme)' authentication, expected Bearer or Basic")
        }
    }

    private func requestToken(
        _ challenge: AuthenticationChallenge, scopes: [AccessScope], credentials: RegistryCredentials?, operation: RegistryOperation
    ) async throws(ImageTransferError) -> (value: String, lifetime: Duration) {
        guard let realm = challenge.parameters["realm"], realm.hasPrefix("https://") || realm.hasPrefix("http://") else {
            throw .protocolViolation(operation: operation, reason: "the Bearer challenge has no http(s) realm")
        }
        if realm.hasPrefix("http://"), credentials != nil, !Self.isLoopback(Self.origin(of: realm).dropFirst("http://".count).description) {
            throw .tokenRequestFailed(
                operation: operation, realm: realm, reason: "the token service uses plain HTTP, which would expose the password")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + Self.queryEscaped(service)) }
        for scope in scopes { query.append("scope=" + Self.queryEscaped(scope.text)) }
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        var request = HTTPClientRequest(url: url)
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        let response: HTTPClientResponse
        let body: [UInt8]
        do {
            response = try await http.execute(request, timeout: .seconds(options.requestTimeout.components.seconds), logger: options.logger)
            body = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        } catch {
            throw .tokenRequestFailed(operation: operation, realm: realm, reason: Self.describe(error))
        }
        guard response.status == .ok else {
            let who = credentials.map { " for \($0)" } ?? " anonymously"
            throw .tokenRequestFailed(
                operation: operation, realm: realm,
                reason: "HTTP \(response.status.code)\(who)\(RegistryErrorDetail.describe(Self.registryErrors(body)))")
        }
        guard case .object(let members)? = try? JSONParser.parse(body, maximumDepth: 16) else {
            throw .tokenRequestFailed(operation: operation, realm: realm, reason: "the answer is not a JSON object")
        }
        let token = members.last { $0.key == "token" }?.value ?? members.last { $0.key == "access_token" }?.value
        guard case .string(let value)? = token, !value.isEmpty else {
            throw .tokenRequestFailed(operation: operation, realm: realm, reason: "the answer has no 'token' or 'access_token'")
        }
        var lifetime = Duration.seconds(60)
        if case .number(let literal)? = members.last(where: { $0.key == "expires_in" })?.value, let seconds = Int(literal), seconds > 0 {
            lifetime = .seconds(seconds)
        }
        return (value, lifetime)
    }

    private func collect(
        _ response: RegistryResponse, limit: Int, what: String, operation: RegistryOperation
    ) async throws(ImageTransferError) -> [UInt8] {
        do {
            return Array(buffer: try await response.body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            throw .tooLarge(location: response.url, what: what, limit: limit)
        } catch {
            throw .unreachable(operation: operation, reason: Self.describe(error))
        }
    }

    /// The error for an unexpected status, with the registry's own explanation from its body.
    func failure(_ response: RegistryResponse, _ operation: RegistryOperation) async -> ImageTransferError {
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array(buffer: $0) } ?? []
        let errors = Self.registryErrors(body)
        switch response.status.code {
        case 401, 403:
            return .unauthorized(
                operation: operation, status: Int(response.status.code), usedCredentials: response.credentials?.description, registryErrors: errors)
        case 404:
            return .notFound(operation: operation, registryErrors: errors)
        default:
            return .registryStatus(operation: operation, status: Int(response.status.code), registryErrors: errors)
        }
    }

    /// The distribution API's error body, `{"errors":[{"code":...,"message":...,"detail":...}]}`; empty for any
    /// other body.
    static func registryErrors(_ body: [UInt8]) -> [RegistryErrorDetail] {
        guard case .object(let members)? = try? JSONParser.parse(body, maximumDepth: 32),
            case .array(let entries)? = members.last(where: { $0.key == "errors" })?.value
        else { return [] }
        return entries.prefix(10).compactMap { entry in
            guard case .object(let fields) = entry else { return nil }
            func text(_ key: String) -> String? {
                guard let value = fields.last(where: { $0.key == key })?.value else { return nil }
                if case .string(let string) = value { return string }
                if case .null = value { return nil }
                return String(decoding: value.encodedBytes, as: UTF8.self)
            }
            return RegistryErrorDetail(
                code: ImageFormatError.clip(text("code") ?? ""), message: ImageFormatError.clip(text("message") ?? ""),
                detail: text("detail").map(ImageFormatError.clip))
        }
    }

    private func uploadLocation(
        _ response: RegistryResponse, _ operation: RegistryOperation, _ repository: RegistryRepository
    ) throws(ImageTransferError) -> String {
        guard let location = response.headers.first(name: "Location") else {
            throw .protocolViolation(operation: operation, reason: "HTTP \(response.status.code) without a Location header for the upload")
        }
        return try resolve(location, in: repository)
    }

    private func resolve(_ location: String, in repository: RegistryRepository) throws(ImageTransferError) -> String {
        Self.resolve(location, against: try baseURL(repository))
    }

    static func resolve(_ location: String, against base: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        if location.hasPrefix("/") { return origin(of: base) + location }
        let directory = base.split(separator: "?", maxSplits: 1)[0]
        return String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)]) + "/" + location
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return String(url[..<hostEnd])
    }

    static func appending(digest: ContentDigest, to location: String) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + queryEscaped(digest.description)
    }

    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("ECONNREFUSED") || text.localizedCaseInsensitiveContains("connection refused") || text.contains("connectRefused") {
            return "connection refused (nothing listens there)"
        }
        if text.contains("NIOSSL") || text.localizedCaseInsensitiveContains("handshake") || text.localizedCaseInsensitiveContains("certificate") {
            return "TLS failed (\(text)); a registry on this machine without TLS needs --plain-http"
        }
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
            return "no answer in time (\(text))"
        }
        return text
    }
}

extension RegistryClient.RegistryRequest {
    var isStreamed: Bool {
        if case .stream = body { return true }
        return false
    }
}

/// Runs `body` with a registry client and shuts the client down afterwards, whether `body` succeeds or not.
@discardableResult
public func withRegistryClient<Result, Failure: Error>(
    options: RegistryClient.Options = RegistryClient.Options(), _ body: (RegistryClient) async throws(Failure) -> Result
) async throws(Failure) -> Result {
    let client = RegistryClient(options: options)
    let result: Swift.Result<Result, Failure>
    do {
        result = .success(try await body(client))
    } catch {
        result = .failure(error)
    }
    // Shutting down fails only for a client already shut down, which this function never does.
    try? await client.shutdown()
    return try result.get()
}
