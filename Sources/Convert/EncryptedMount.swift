/// A Gramine encrypted mount of a converted image (`--encrypted-mount PATH:KEYNAME`): the directory at `path` is served
/// through Gramine's protected files with the key `/dev/attestation/keys/KEYNAME`, which only an activated marble has
/// (the manifest's marble writes it there from a secret: `"Files": {"/dev/attestation/keys/KEYNAME": "{{ raw
/// .Secrets.NAME }}"}`). The host directory mounted at `path` holds only encrypted files.
public struct EncryptedMount: Sendable, Hashable {
    /// The enclave path, absolute and normalised; also the host path (`uri = "file:PATH"`), as a volume is mounted.
    public let path: String
    public let keyName: String

    /// Directories that Gramine, the launcher or the kernel own: an encrypted mount there would break the enclave.
    static let reservedPaths = ["/cloister", ConvertedImageLayout.graminePrefix, "/dev", "/proc", "/sys", "/lib", "/usr", "/bin", "/sbin"]

    /// Parses `PATH:KEYNAME`.
    public init(parsing text: String) throws(ConversionError) {
        guard let separator = text.lastIndex(of: ":") else {
            throw Self.refusal(text, found: "no ':'", expected: "PATH:KEYNAME")
        }
        let path = String(text[..<separator])
        let keyName = String(text[text.index(after: separator)...])
        guard path.hasPrefix("/") else { throw Self.refusal(text, found: "the path '\(path)'", expected: "an absolute path") }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) || path == "/" else {
            throw Self.refusal(text, found: "the path '\(path)'", expected: "a normalised path (no '//', '.', '..' or trailing '/')")
        }
        guard path != "/" else { throw Self.refusal(text, found: "the root directory", expected: "a directory below /") }
        if let reserved = Self.reservedPaths.first(where: { path == $0 || path.hasPrefix($0 + "/") }) {
            throw Self.refusal(text, found: "a path under \(reserved)", expected: "a data directory such as /data or /var/lib/app")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard (1...64).contains(keyName.count), keyName.allSatisfy(allowed.contains) else {
            throw Self.refusal(
                text, found: "the key name '\(keyName)'", expected: "1 to 64 letters, digits, '_' or '-' (a file name under /dev/attestation/keys)")
        }
        self.path = path
        self.keyName = keyName
    }

    /// Whether the image file at `imagePath` lies under this mount, so that the mount, not the image, serves it.
    public func covers(_ imagePath: String) -> Bool { imagePath.hasPrefix(path + "/") }

    /// Refuses mounts that repeat or nest: Gramine would serve one path from two mounts.
    public static func checkDistinct(_ mounts: [EncryptedMount]) throws(ConversionError) {
        for (index, mount) in mounts.enumerated() {
            for other in mounts[(index + 1)...] where mount.path == other.path || mount.covers(other.path) || other.covers(mount.path) {
                throw ConversionError(
                    .unusableInput, "--encrypted-mount \(other.path):\(other.keyName)", found: "it overlaps --encrypted-mount \(mount.path)",
                    expected: "mounts at distinct, non-nested paths", hint: "give each encrypted directory once")
            }
        }
    }

    private static func refusal(_ text: String, found: String, expected: String) -> ConversionError {
        ConversionError(
            .unusableInput, "--encrypted-mount \(text)", found: found, expected: expected,
            hint: "give the enclave directory and the key's name, e.g. --encrypted-mount /data:datakey")
    }
}
