import FuzzSupport
import Manifest

// Manifests come from users and, through updates, from anyone holding a user certificate: the reader (JSON or YAML,
// Go's rules) and the validator must refuse or accept whatever the bytes, never trap or hang.

let seeds = SharedCorpus.files(in: "corpus/marblerun-manifests")

runFuzzer(seeds: seeds) { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let manifest = try? ManifestDocument.parse(bytes) {
        _ = manifest.validate()
    }
    return 0
}
