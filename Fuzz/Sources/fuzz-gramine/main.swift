import FuzzSupport
import Gramine

// Two readers of files a user hands to `cloister`: the Gramine manifest (TOML) and the `.sig` SIGSTRUCT.
// A manifest that parses is also written back as gramine-sgx-sign would write it: that writing must read back to
// the same document (compared through its written bytes, which NaN floats cannot upset), or MRENCLAVE would be
// computed over a manifest Cloister itself cannot read.

/// A SIGSTRUCT frame (both fixed headers, exponent 3) for the input to fill from the modulus on, so that most
/// inputs reach the signature check instead of failing the size or header checks.
func sigStructFrame(filledWith input: UnsafeRawBufferPointer) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: SigStruct.size)
    bytes.replaceSubrange(0..<16, with: [0x06, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0])
    bytes.replaceSubrange(24..<40, with: [0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0])
    let fill = min(input.count, SigStruct.size - 128)
    bytes.replaceSubrange(128..<(128 + fill), with: input.prefix(fill))
    if input.count < 512 - 128 { bytes[512] = 3 }  // The input did not reach the exponent: keep it valid.
    return bytes
}

let manifest = """
    # A trimmed Gramine manifest.
    libos.entrypoint = "/usr/bin/python3"
    loader.log_level = "error"
    loader.env.LD_LIBRARY_PATH = "/lib:/usr/lib"
    loader.argv = ["python3", "-c", 'print("hi")']
    fs.mounts = [
      { path = "/lib", uri = "file:/usr/lib/x86_64-linux-gnu" },
      { type = "tmpfs", path = "/tmp" },
    ]
    sgx.enclave_size = "512M"
    sgx.max_threads = 4
    sgx.debug = false
    sgx.isvprodid = 0x10
    sgx.trusted_files = [
      "file:/usr/bin/python3",
      { uri = "file:/etc/hosts", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
    ]
    """
let sections = """
    [loader]
    entrypoint = "file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so"

    [loader.env]
    HOME = { value = "/root" }

    [[sgx.allowed_files]]
    uri = "file:/dev/null"

    [[sgx.allowed_files]]
    uri = "file:/tmp/"
    """
let scalars = #"""
    a = 1_000
    b = -0o17
    c = 0b101
    d = +inf
    e = 6.02e+23
    f = """multi
    line \e \x41"""
    g = '''raw\n'''
    "quoted key" = { nested = { deep = [1, [2, [3]]] } }
    h.i.j = true
    """#

runFuzzer(seeds: [Array(manifest.utf8), Array(scalars.utf8), Array(sections.utf8), sigStructFrame(filledWith: .init(start: nil, count: 0))]) {
    data, size in
    let input = fuzzInput(data, size)
    let bytes = Array(input)
    if let table = try? TOMLReader().parse(bytes) {
        let written = TOMLWriter.bytes(from: table)
        do {
            let reread = try TOMLReader().parse(written)
            if TOMLWriter.bytes(from: reread) != written { fatalError("rewriting changed: \(String(decoding: written, as: UTF8.self))") }
        } catch {
            fatalError("the writer wrote TOML the reader refuses (\(error)): \(String(decoding: written, as: UTF8.self))")
        }
    }
    _ = try? SigStruct(bytes: bytes)
    if let sig = try? SigStruct(bytes: sigStructFrame(filledWith: input)) {
        _ = (sig.mrEnclave, sig.mrSigner, sig.date, sig.isDebug)
    }
    return 0
}
