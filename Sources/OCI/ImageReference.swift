/// Where an image is, written with skopeo's transport names:
/// `docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`, `oci:DIR[:TAG]` or `docker-archive:FILE`.
public enum ImageReference: Sendable, Hashable, CustomStringConvertible {
    case registry(RegistryReference)
    case layout(LayoutReference)
    case dockerArchive(path: String)

    public init(parsing text: String) throws(ImageReferenceError) {
        if text.hasPrefix("docker://") {
            self = .registry(try RegistryReference(parsing: String(text.dropFirst("docker://".count)), original: text))
        } else if text.hasPrefix("oci:") {
            self = .layout(try LayoutReference(parsing: String(text.dropFirst("oci:".count)), original: text))
        } else if text.hasPrefix("docker-archive:") {
            let path = String(text.dropFirst("docker-archive:".count))
            guard !path.isEmpty else { throw .emptyPath(reference: text) }
            self = .dockerArchive(path: path)
        } else if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/"), !text[..<colon].contains(".") {
            throw .unknownTransport(reference: text, transport: String(text[..<colon]))
        } else {
            throw .missingTransport(reference: text)
        }
    }

    public var description: String {
        switch self {
        case .registry(let reference): "docker://\(reference)"
        case .layout(let reference): "oci:\(reference)"
        case .dockerArchive(let path): "docker-archive:\(path)"
        }
    }
}

/// An image in a registry. `docker.io` names are completed as Docker does (`library/`, `latest`).
public struct RegistryReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry as named, e.g. `docker.io`, `ghcr.io` or `127.0.0.1:5000`.
    public var host: String
    /// The repository path, e.g. `library/alpine`.
    public var repository: String
    public var tag: String?
    public var digest: ContentDigest?

    public init(host: String, repository: String, tag: String? = nil, digest: ContentDigest? = nil) {
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Docker Hub's name and the host that serves its API.
    public static let dockerHubName = "docker.io"
    static let dockerHubEndpoint = "registry-1.docker.io"

    /// The host and port the distribution API is served at.
    public var endpointHost: String { host == Self.dockerHubName ? Self.dockerHubEndpoint : host }

    /// The digest if given, else the tag: what goes in `/v2/<name>/manifests/<reference>`.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    public var description: String {
        var text = "\(host)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// The same repository with another tag, e.g. a copy's destination.
    public func with(tag: String) -> RegistryReference {
        RegistryReference(host: host, repository: repository, tag: tag, digest: nil)
    }

    /// Reads `HOST[:PORT]/REPO[:TAG|@DIGEST]` (the part after `docker://`).
    public init(parsing text: String, original: String? = nil) throws(ImageReferenceError) {
        let reference = original ?? text
        var name = text
        var digest: ContentDigest?
        if let at = name.lastIndex(of: "@") {
            do {
                digest = try ContentDigest(parsing: String(name[name.index(after: at)...]))
            } catch {
                throw .malformedDigest(reference: reference, error)
            }
            name = String(name[..<at])
        }
        var tag: String?
        let lastSlash = name.lastIndex(of: "/")
        let nameTail = lastSlash.map { name[name.index(after: $0)...] } ?? name[...]
        if let colon = nameTail.lastIndex(of: ":") {
            let candidate = String(nameTail[nameTail.index(after: colon)...])
            guard Self.isValidTag(candidate) else { throw .malformedTag(reference: reference, tag: candidate) }
            tag = candidate
            name = String(name[..<colon])
        }
        if tag != nil, digest != nil { throw .tagAndDigest(reference: reference) }
        var host = Self.dockerHubName
        var repository = name
        if let slash = name.firstIndex(of: "/") {
            let first = String(name[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first.contains("[") {
                host = first
                repository = String(name[name.index(after: slash)...])
            }
        }
        guard !repository.isEmpty else { throw .malformedRepository(reference: reference, repository: repository, reason: "it is empty") }
        if host == "index.docker.io" { host = Self.dockerHubName }
        if host == Self.dockerHubName, !repository.contains("/") { repository = "library/" + repository }
        try Self.checkHost(host, reference: reference)
        try Self.checkRepository(repository, reference: reference)
        self.init(host: host, repository: repository, tag: tag ?? (digest == nil ? "latest" : nil), digest: digest)
    }

    /// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWordByte(first) else { return false }
        return bytes.dropFirst().allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private static func checkHost(_ host: String, reference: String) throws(ImageReferenceError) {
        var name = Substring(host)
        var port: Substring?
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else {
                throw .malformedHost(reference: reference, host: host, reason: "an IPv6 address is not closed by ']'")
            }
            let rest = name[name.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .malformedHost(reference: reference, host: host, reason: "text after ']' is not ':PORT'") }
                port = rest.dropFirst()
            }
            name = name[name.index(after: name.startIndex)..<close]
            guard !name.isEmpty, name.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw .malformedHost(reference: reference, host: host, reason: "'\(name)' is not an IPv6 address")
            }
        } else {
            if let colon = name.lastIndex(of: ":") {
                port = name[name.index(after: colon)...]
                name = name[..<colon]
            }
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            for label in labels {
                guard !label.isEmpty, !label.hasPrefix("-"), !label.hasSuffix("-"),
                    label.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") })
                else {
                    throw .malformedHost(reference: reference, host: host, reason: "'\(label)' is not a DNS label (letters, digits, inner '-')")
                }
            }
        }
        if let port {
            guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isASCII) else {
                throw .malformedHost(reference: reference, host: host, reason: "port '\(port)' is not a number from 1 to 65535")
            }
        }
    }

    /// Docker's repository grammar: lower-case components `[a-z0-9]+([._]|__|-+)[a-z0-9]+...` separated by '/'.
    private static func checkRepository(_ repository: String, reference: String) throws(ImageReferenceError) {
        guard repository.utf8.count <= 255 else {
            throw .malformedRepository(reference: reference, repository: repository, reason: "it is longer than 255 characters")
        }
        for component in repository.split(separator: "/", omittingEmptySubsequences: false) {
            let bytes = Array(component.utf8)
            func isAlphanumeric(_ byte: UInt8) -> Bool {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            }
            guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else {
                throw .malformedRepository(
                    reference: reference, repository: repository,
                    reason: "component '\(component)' must start and end with a lower-case letter or digit")
            }
            var index = 0
            while index < bytes.count {
                if isAlphanumeric(bytes[index]) {
                    index += 1
                    continue
                }
                var separatorEnd = index
                while separatorEnd < bytes.count, !isAlphanumeric(bytes[separatorEnd]) { separatorEnd += 1 }
                let separator = String(decoding: bytes[index..<separatorEnd], as: UTF8.self)
                guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" }) else {
                    throw .malformedRepository(
                        reference: reference, repository: repository,
                        reason: "component '\(component)' has '\(separator)'; only lower-case letters, digits and single "
                            + "'.', '_' or '__', or dashes may appear")
                }
                index = separatorEnd
            }
        }
    }
}

/// An image in an OCI image layout directory, optionally named by its `org.opencontainers.image.ref.name`.
public struct LayoutReference: Sendable, Hashable, CustomStringConvertible {
    public var directory: String
    public var tag: String?

    public init(directory: String, tag: String? = nil) {
        self.directory = directory
        self.tag = tag
    }

    /// Reads `DIR[:TAG]` (the part after `oci:`); like skopeo, the directory ends at the first ':'.
    public init(parsing text: String, original: String? = nil) throws(ImageReferenceError) {
        let reference = original ?? text
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let directory = String(parts[0])
        guard !directory.isEmpty else { throw .emptyPath(reference: reference) }
        var tag: String?
        if parts.count == 2 {
            let candidate = String(parts[1])
            // The OCI layout's ref.name grammar: components of [A-Za-z0-9._-] separated by '/'.
            let valid =
                !candidate.isEmpty
                && candidate.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
                    !component.isEmpty
                        && component.unicodeScalars.allSatisfy {
                            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
                        }
                }
            guard valid else { throw .malformedTag(reference: reference, tag: candidate) }
            tag = candidate
        }
        self.init(directory: directory, tag: tag)
    }

    public var description: String { tag.map { "\(directory):\($0)" } ?? directory }
}

/// Why an image reference cannot be read.
public enum ImageReferenceError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingTransport(reference: String)
    case unknownTransport(reference: String, transport: String)
    case emptyPath(reference: String)
    case malformedHost(reference: String, host: String, reason: String)
    case malformedRepository(reference: String, repository: String, reason: String)
    case malformedTag(reference: String, tag: String)
    case malformedDigest(reference: String, ImageFormatError)
    case tagAndDigest(reference: String)

    public var description: String {
        switch self {
        case .missingTransport(let reference):
            return "image reference '\(ImageFormatError.clip(reference))' has no transport, expected docker://HOST/REPO[:TAG], "
                + "oci:DIR[:TAG] or docker-archive:FILE (e.g. docker://docker.io/library/alpine:3.20)."
        case .unknownTransport(let reference, let transport):
            return "image reference '\(ImageFormatError.clip(reference))' uses transport '\(ImageFormatError.clip(transport))', "
                + "expected docker://, oci: or docker-archive:."
        case .emptyPath(let reference):
            return "image reference '\(ImageFormatError.clip(reference))' names no path; write oci:DIR[:TAG] or docker-archive:FILE."
        case .malformedHost(let reference, let host, let reason):
            return "the registry host '\(ImageFormatError.clip(host))' in '\(ImageFormatError.clip(reference))' is malformed: "
                + "\(reason). Expected a host name or address with an optional :PORT, e.g. 127.0.0.1:5000."
        case .malformedRepository(let reference, let repository, let reason):
            return "the repository '\(ImageFormatError.clip(repository))' in '\(ImageFormatError.clip(reference))' is "
                + "malformed: \(reason). Repository names are lower-case, e.g. library/alpine."
        case .malformedTag(let reference, let tag):
            return "the tag '\(ImageFormatError.clip(tag))' in '\(ImageFormatError.clip(reference))' is malformed, expected "
                + "up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'."
        case .malformedDigest(let reference, let error):
            return "the digest in '\(ImageFormatError.clip(reference))' is unusable: \(error)"
        case .tagAndDigest(let reference):
            return "'\(ImageFormatError.clip(reference))' names both a tag and a digest, expected one of them. Keep the "
                + "digest to pin the exact image."
        }
    }
}
