import CoordinatorAPI
import Foundation
import FuzzSupport

// The marble API's request bodies come from any process that can open a TLS connection to the Coordinator, before
// anything about it is verified: the decoders must refuse or accept, never trap, and what they accept must be what
// the JSON said.

let seeds: [[UInt8]] = [
    #"{"quote": "AQID", "csr": "MIIB", "marbleType": "backend", "uuid": "6f1c2d3e-0000-4000-8000-000000000001"}"#,
    #"{"marbleType": "backend"}"#, #"{"quote": 1}"#, #"{"quote": "AQID", "quote": "BA=="}"#,
].map { Array($0.utf8) }

runFuzzer(seeds: seeds) { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let request = try? ActivationRequest(strictJSON: bytes) {
        let encoded = try? JSONEncoder().encode(request)
        if let encoded, (try? ActivationRequest(strictJSON: Array(encoded))) != request {
            fatalError("a decoded activation request does not survive encoding: \(String(decoding: encoded, as: UTF8.self))")
        }
    }
    _ = try? ActivationPlanRequest(strictJSON: bytes)
    return 0
}
