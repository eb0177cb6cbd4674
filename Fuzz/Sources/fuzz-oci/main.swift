import FuzzSupport
import OCI

// Every input goes through all three decoders: the documents share one JSON reader, and one corpus serves all.
// Whatever decodes must re-encode to bytes that decode to the same value, or the registry copy path
// (decode, then re-encode and push) would corrupt images.

func checkRoundTrip<Document: Equatable>(
    _ bytes: [UInt8], decode: ([UInt8]) throws -> Document, encode: (Document) -> [UInt8]
) {
    guard let document = try? decode(bytes) else { return }
    let encoded = encode(document)
    do {
        let again = try decode(encoded)
        if again != document { fatalError("re-encoding changed \(Document.self): \(String(decoding: encoded, as: UTF8.self))") }
    } catch {
        fatalError("\(Document.self) re-encoded as bytes it refuses (\(error)): \(String(decoding: encoded, as: UTF8.self))")
    }
}

let manifest = """
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json",\
    "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},\
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",\
    "digest":"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":32,\
    "annotations":{"org.opencontainers.image.title":"layer"}}],"annotations":{"a":"b"}}
    """
let dockerManifest = """
    {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",\
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json",\
    "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},\
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",\
    "digest":"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":32}]}
    """
let index = """
    {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
    {"mediaType":"application/vnd.oci.image.manifest.v1+json",\
    "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":500,\
    "platform":{"architecture":"amd64","os":"linux"}},\
    {"mediaType":"application/vnd.oci.image.manifest.v1+json",\
    "digest":"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03","size":500,\
    "platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}
    """
let configuration = """
    {"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",\
    "config":{"User":"1000:1000","Env":["PATH=/usr/bin:/bin"],"Entrypoint":["/bin/sh"],"Cmd":["-c","echo \\u00e9"],\
    "WorkingDir":"/app","ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},"StopSignal":"SIGTERM"},\
    "rootfs":{"type":"layers","diff_ids":["sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"]},\
    "history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file","empty_layer":false}],\
    "extra":[1,2.5e3,null,true,{"x":"y"}]}
    """

runFuzzer(seeds: [manifest, dockerManifest, index, configuration].map { Array($0.utf8) }) { data, size in
    let bytes = Array(fuzzInput(data, size))
    checkRoundTrip(bytes, decode: ImageManifest.decode(bytes:), encode: { $0.encoded() })
    checkRoundTrip(bytes, decode: ImageIndex.decode(bytes:), encode: { $0.encoded() })
    checkRoundTrip(bytes, decode: ImageConfiguration.decode(bytes:), encode: { $0.encoded() })
    return 0
}
