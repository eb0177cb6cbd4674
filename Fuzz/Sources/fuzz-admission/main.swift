import Foundation
import FuzzSupport
import Injector
import StrictJSON

// Every input is a body POSTed to the marble-injector's /mutate. Whatever the bytes, the answer is either a refusal
// or an AdmissionReview that is valid JSON with the request's uid, and an admitted pod's patch is valid JSON too.

let seedDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/KubernetesTests/reviews")
let seeds = ((try? FileManager.default.contentsOfDirectory(atPath: seedDirectory.path)) ?? []).sorted()
    .compactMap { try? Array(Data(contentsOf: seedDirectory.appendingPathComponent($0))) }

let exchanges = [
    AdmissionReviewExchange(injector: MarbleInjector(coordinatorAddress: "coordinator-mesh-api.cloister:2001", coordinatorRootPEM: "pem")),
    AdmissionReviewExchange(
        injector: MarbleInjector(
            coordinatorAddress: "c:2001", sgxResource: "kubernetes.azure.com/sgx_epc_mem_in_MiB", simulationMachinePath: "/var/lib/m")),
]

runFuzzer(seeds: seeds) { data, size in
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for exchange in exchanges {
        guard let answer = try? exchange.answer(bytes) else { continue }
        let response: JSONValue
        do {
            response = try JSONParser.parse(answer.bytes)
        } catch {
            fatalError("the answer is not JSON (\(error)): \(String(decoding: answer.bytes, as: UTF8.self))")
        }
        guard case .object(let members) = response, case .object(let inner)? = members.first(where: { $0.key == "response" })?.value,
            inner.first(where: { $0.key == "uid" })?.value == .string(answer.request.uid)
        else {
            fatalError("the answer does not carry the request's uid: \(String(decoding: answer.bytes, as: UTF8.self))")
        }
        if case .allowed(let patch, _) = answer.decision, !patch.isEmpty {
            do {
                _ = try JSONParser.parse(Array(patch.jsonText.utf8))
            } catch {
                fatalError("the patch is not JSON (\(error)): \(patch.jsonText)")
            }
        }
    }
    return 0
}
