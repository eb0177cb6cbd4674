import ProtectedFiles
import Testing

@Suite("Bound paths and keys")
struct PathAndKeyTests {
    /// The cases of Gramine's own `get_norm_path` regression test (pal/regression/normalize_path.c).
    @Test(
        "normalisation matches Gramine's get_norm_path",
        arguments: [
            ("/", "/"), ("/a/b/c", "/a/b/c"), ("/a/../b", "/b"), ("/../a", "/a"), ("/../../../../../a", "/a"),
            ("/../a/../../b", "/b"), ("/../..a/b", "/..a/b"), ("/a/..", "/"), ("/a/.", "/a"), ("/.//a//./b", "/a/b"),
            ("///////.////////////./", "/"), ("/...././a/../././.../b/.....", "/..../.../b/....."), ("a/b/c", "a/b/c"),
            ("a/../b", "b"), ("../a", "../a"), ("../../../../../a", "../../../../../a"), ("../a/../../b", "../../b"),
            ("../..a/b", "../..a/b"), ("a/..", ""), ("a/.", "a"), ("enc_files/", "enc_files"),
        ])
    func normalisation(path: String, normalized: String) {
        #expect(BoundPath.normalize(path) == normalized)
    }

    @Test("a mounted directory binds files to uri + / + relative path, as Gramine's dentry_uri builds it")
    func mountBinding() throws {
        #expect(try BoundPath(mountURI: "file:enc_files/", relativePath: "input.txt").normalized == "enc_files/input.txt")
        #expect(try BoundPath(mountURI: "file:/data/enc", relativePath: "sub/f").normalized == "/data/enc/sub/f")
        #expect(try BoundPath(mountURI: "/data/enc/", relativePath: "./sub//f").normalized == "/data/enc/sub/f")
        #expect(try BoundPath(mountURI: "file:", relativePath: "f").normalized == "f")
        #expect(try BoundPath(mountURI: "file:/data/one.bin", relativePath: "").normalized == "/data/one.bin")
        #expect(try ProtectedFileMount(uri: "file:enc_files/").boundPath(forRelativePath: "a/b").normalized == "enc_files/a/b")
    }

    @Test("paths that cannot be stored are refused")
    func invalidPaths() throws {
        #expect(throws: BoundPathError.self) { try BoundPath("a/..") }
        #expect(throws: BoundPathError.self) { try BoundPath("/" + String(repeating: "x", count: 771)) }
        #expect(throws: BoundPathError.self) { try BoundPath("/a\u{0}b") }
        let longest = try BoundPath("/" + String(repeating: "x", count: 770))
        #expect(longest.normalized.utf8.count == 771)
    }

    @Test("key files: 16 raw bytes, or 32 hex digits with an optional newline")
    func keyFiles() throws {
        let raw = Array(0..<16).map(UInt8.init)
        #expect(try ProtectedFileKey(keyFileContents: raw).bytes == raw)
        let hex = Array("000102030405060708090a0b0c0d0e0f".utf8)
        #expect(try ProtectedFileKey(keyFileContents: hex).bytes == raw)
        #expect(try ProtectedFileKey(keyFileContents: hex + [0x0a]).bytes == raw)
        #expect(try ProtectedFileKey(keyFileContents: Array("000102030405060708090A0B0C0D0E0F\r\n".utf8)).bytes == raw)
        for bad in [[], Array(raw.prefix(15)), raw + [0x0a], hex + [0x0a, 0x0a], Array("zz0102030405060708090a0b0c0d0e0f".utf8), hex + hex] {
            #expect(throws: ProtectedFileKeyError.self) { try ProtectedFileKey(keyFileContents: bad) }
        }
        #expect(!String(describing: Fixtures.vectorKey).contains("0001"))
    }
}
