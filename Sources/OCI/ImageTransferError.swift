/// Why reading an image from a source or writing it to a destination failed. Each description names where (host and
/// repository, directory or file), the operation, what was found against what was expected, and what to do.
public enum ImageTransferError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A manifest, index or configuration read from `location` is unusable.
    case malformedDocument(location: String, ImageFormatError)
    case invalidReference(ImageReferenceError)
    /// Content read from `location` does not hash to the digest that named it.
    case digestMismatch(location: String, expected: ContentDigest, found: ContentDigest)
    /// Content read from `location` has another length than its descriptor says; `found` is a lower bound when
    /// reading stopped early because the content ran past `expected`.
    case sizeMismatch(location: String, digest: ContentDigest, expected: Int64, found: Int64, stoppedEarly: Bool)
    /// Content at `location` is larger than the module accepts for its kind (manifests, configurations, tokens).
    case tooLarge(location: String, what: String, limit: Int)
    /// The registry answered with an error status; `registryErrors` is its own explanation (the JSON `errors` body).
    case registryStatus(operation: RegistryOperation, status: Int, registryErrors: [RegistryErrorDetail])
    /// The registry refused access (401/403), with or without credentials.
    case unauthorized(operation: RegistryOperation, status: Int, usedCredentials: String?, registryErrors: [RegistryErrorDetail])
    /// The manifest or blob does not exist there (404).
    case notFound(operation: RegistryOperation, registryErrors: [RegistryErrorDetail])
    /// The token service named by the registry's `WWW-Authenticate` challenge did not issue a token.
    case tokenRequestFailed(operation: RegistryOperation, realm: String, reason: String)
    /// The registry could not be reached or the connection broke.
    case unreachable(operation: RegistryOperation, reason: String)
    /// The registry's answer does not follow the distribution API.
    case protocolViolation(operation: RegistryOperation, reason: String)
    /// Plain HTTP was asked for a registry that is not on this machine.
    case plainHTTPRefused(host: String)
    case credentialsUnreadable(path: String, reason: String)
    /// Reading content from `location` broke off (connection lost, I/O error).
    case readFailed(location: String, reason: String)
    /// A file or directory of a layout or archive cannot be read or written.
    case fileSystem(path: String, operation: String, reason: String)
    /// The OCI layout has no manifest under the tag, or several and no tag was given.
    case layoutReferenceNotFound(directory: String, tag: String?, available: [String])
    /// The directory is not an OCI image layout.
    case notALayout(directory: String, reason: String)
    /// The file is not a `docker save` archive of one image.
    case notADockerArchive(path: String, reason: String)

    public var description: String {
        switch self {
        case .malformedDocument(let location, let error):
            return "content from \(location) is unusable: \(error)"
        case .invalidReference(let error):
            return error.description
        case .digestMismatch(let location, let expected, let found):
            return "content from \(location) hashes to \(found), expected \(expected). The content was changed or "
                + "damaged in storage or transit; it was not used. Re-push the image or repair the storage."
        case .sizeMismatch(let location, let digest, let expected, let found, let stoppedEarly):
            let amount = stoppedEarly ? "more than \(found)" : "\(found)"
            return "content \(digest) from \(location) is \(amount) bytes, expected \(expected) as its descriptor says. "
                + "The content or the manifest that describes it is damaged; it was not used."
        case .tooLarge(let location, let what, let limit):
            return "the \(what) from \(location) is larger than \(limit) bytes, the most accepted for it. The source is "
                + "sending something else than a \(what), or a hostile one."
        case .registryStatus(let operation, let status, let errors):
            return "\(operation) failed: the registry answered HTTP \(status)\(RegistryErrorDetail.describe(errors)). "
                + Self.statusHint(status)
        case .unauthorized(let operation, let status, let credentials, let errors):
            let hint =
                credentials.map {
                    "The credentials of \($0) were refused: check the user name and password, and that the "
                        + "account may \(operation.access) this repository."
                }
                ?? "No credentials were found for \(operation.host): log in (`skopeo login` or `podman login` writes "
                + "$XDG_RUNTIME_DIR/containers/auth.json), or point REGISTRY_AUTH_FILE at an auth.json that has them."
            return "\(operation) was refused with HTTP \(status)\(RegistryErrorDetail.describe(errors)). \(hint)"
        case .notFound(let operation, let errors):
            return "\(operation) failed: not found (HTTP 404)\(RegistryErrorDetail.describe(errors)). Check the "
                + "repository name and the tag or digest (`skopeo list-tags` lists the tags)."
        case .tokenRequestFailed(let operation, let realm, let reason):
            return "\(operation) needs a token from \(realm), which failed: \(reason). Check the credentials for "
                + "\(operation.host) and that the token service is reachable."
        case .unreachable(let operation, let reason):
            return "\(operation) failed: \(reason). Check the registry address and that it is running; a registry on "
                + "this machine without TLS needs --plain-http."
        case .protocolViolation(let operation, let reason):
            return "\(operation) failed: the registry's answer does not follow the distribution API: \(reason)."
        case .plainHTTPRefused(let host):
            return "plain HTTP was asked for registry \(host), which is not a loopback address. Only a registry on "
                + "this machine (localhost, 127.0.0.0/8, ::1) may be used without TLS; use https for \(host)."
        case .credentialsUnreadable(let path, let reason):
            return "cannot read registry credentials from \(path): \(reason). Expected JSON with "
                + "{\"auths\":{\"HOST\":{\"auth\":\"base64(user:password)\"}}}; fix or remove the file."
        case .readFailed(let location, let reason):
            return "reading from \(location) failed: \(reason). Retry; if it persists, check the source."
        case .fileSystem(let path, let operation, let reason):
            return "cannot \(operation) \(path): \(reason). Check the path, its permissions and free space."
        case .layoutReferenceNotFound(let directory, let tag, let available):
            let offered = available.isEmpty ? "none" : available.joined(separator: ", ")
            if let tag {
                return "the OCI layout \(directory) has no image tagged '\(tag)'; its tags: \(offered). Use oci:\(directory):TAG "
                    + "with one of them."
            }
            return "the OCI layout \(directory) holds \(available.count) images and no tag was given; its tags: \(offered). "
                + "Use oci:\(directory):TAG."
        case .notALayout(let directory, let reason):
            return "\(directory) is not an OCI image layout: \(reason). Expected an oci-layout file, index.json and "
                + "blobs/sha256/ (as `skopeo copy ... oci:DIR:TAG` writes)."
        case .notADockerArchive(let path, let reason):
            return "\(path) is not a docker-archive: \(reason). Expected a tar with manifest.json, the configuration and the "
                + "layers (as `docker save` or `skopeo copy ... docker-archive:FILE` writes)."
        }
    }

    private static func statusHint(_ status: Int) -> String {
        switch status {
        case 400: "The registry rejected the request as invalid; the image may use a format the registry does not accept."
        case 405: "The registry does not allow this operation (it may be read-only or a pull-through cache)."
        case 413: "The registry refused the size of the upload; try chunked upload or ask its operator for the limit."
        case 416: "The registry lost track of the upload's offset; retry the copy."
        case 429: "The registry is rate-limiting: retry later, or log in for a higher limit."
        case 500...599: "The registry failed on its side: retry later, and report it to its operator if it persists."
        default: "Check the registry address and the request."
        }
    }
}

/// One registry request, for messages: what was done where.
public struct RegistryOperation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var repository: String
    /// e.g. "GET manifest latest", "PATCH blob upload".
    public var action: String
    public var url: String

    public var description: String { "\(action) on \(host)/\(repository) (\(url))" }

    /// The access the action needs, in the words of a permission.
    var access: String { action.hasPrefix("GET") || action.hasPrefix("HEAD") ? "pull from" : "push to" }
}

/// One entry of a registry's `{"errors":[{"code":...,"message":...,"detail":...}]}` body.
public struct RegistryErrorDetail: Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var detail: String?

    public var description: String {
        var text = code.isEmpty ? message : "\(code): \(message)"
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return text
    }

    static func describe(_ errors: [RegistryErrorDetail]) -> String {
        errors.isEmpty ? "" : "; the registry says: " + errors.map(\.description).joined(separator: "; ")
    }
}
