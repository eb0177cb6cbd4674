import Foundation
import Injector
import Testing

/// The injector's decisions as pure functions of a review: what a pod gets, and what it keeps.
@Suite struct MarbleInjectorTests {
    static func review(
        labels: [String: String], containers: String = #"[{"name": "app", "image": "a"}]"#, extraSpec: String = "",
        kind: String = #"{"group": "", "version": "v1", "kind": "Pod"}"#
    ) -> [UInt8] {
        let labelsJSON = labels.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ",")
        return Array(
            """
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1", "kind": \(kind), "namespace": "Shop",
             "operation": "CREATE", "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {\(labelsJSON)}},
             "spec": {"containers": \(containers)\(extraSpec)}}}}
            """.utf8)
    }

    static func decision(_ injector: MarbleInjector, _ body: [UInt8]) throws -> AdmissionDecision {
        try AdmissionReviewExchange(injector: injector).answer(body).decision
    }

    static func operations(_ decision: AdmissionDecision) -> [String: PatchValue] {
        guard case .allowed(let patch, _) = decision else { return [:] }
        return Dictionary(patch.map { ($0.path.description, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    let injector = MarbleInjector(
        coordinatorAddress: "coordinator-mesh-api.cloister:2001", coordinatorRootPEM: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")

    @Test func azureAndAlibabaResourceNamesGetOneEPCLimitAndTheirToleration() throws {
        for resource in ["kubernetes.azure.com/sgx_epc_mem_in_MiB", "alibabacloud.com/sgx_epc_MiB"] {
            let azure = MarbleInjector(coordinatorAddress: "c:2001", sgxResource: resource, coordinatorRootPEM: "pem")
            let operations = Self.operations(try Self.decision(azure, Self.review(labels: ["marblerun/marbletype": "web"])))
            #expect(operations["/spec/containers/0/resources"] == .object([("limits", .object([(resource, .string("10"))]))]))
            #expect(
                operations["/spec/tolerations"]
                    == .array([.object([("key", .string(resource)), ("operator", .string("Exists")), ("effect", .string("NoSchedule"))])]))
        }
    }

    @Test func intelGetsEPCEnclaveAndProvisionAndTheMarbleEnvironment() throws {
        let operations = Self.operations(try Self.decision(injector, Self.review(labels: ["marblerun/marbletype": "Web"])))
        #expect(
            operations["/spec/containers/0/resources"]
                == .object([
                    (
                        "limits",
                        .object([
                            ("sgx.intel.com/epc", .string("10Mi")), ("sgx.intel.com/enclave", .string("1")),
                            ("sgx.intel.com/provision", .string("1")),
                        ])
                    )
                ]))
        guard case .array(let environment)? = operations["/spec/containers/0/env"] else {
            Issue.record("no env array: \(operations.keys.sorted())")
            return
        }
        let pairs = environment.compactMap { value -> String? in
            guard case .object(let members) = value, case .string(let name)? = members.first?.1, case .string(let text)? = members.last?.1 else {
                return nil
            }
            return "\(name)=\(text)"
        }
        #expect(pairs.contains("EDG_MARBLE_TYPE=Web"))
        #expect(pairs.contains("EDG_MARBLE_DNS_NAMES=web,web.shop,web.shop.svc.cluster.local"), "lower-cased as MarbleRun does")
        #expect(pairs.contains("EDG_MARBLE_UUID_FILE=/Web-uid/uuid-file"))
        #expect(pairs.contains("EDG_MARBLE_COORDINATOR_ADDR=coordinator-mesh-api.cloister:2001"))
        #expect(pairs.contains { $0.hasPrefix("CLOISTER_COORDINATOR_ROOT_CA=-----BEGIN CERTIFICATE-----") })
    }

    @Test func simulationMountsTheNodesSimulatedMachineAndAsksForNoSGXResources() throws {
        let simulated = MarbleInjector(
            coordinatorAddress: "c:2001", simulationMachinePath: "/var/lib/cloister/simulated-machine", coordinatorRootPEM: "pem")
        let operations = Self.operations(try Self.decision(simulated, Self.review(labels: ["marblerun/marbletype": "web"])))
        #expect(operations["/spec/containers/0/resources"] == nil)
        #expect(operations["/spec/tolerations"] == nil)
        guard case .array(let volumes)? = operations["/spec/volumes"] else {
            Issue.record("no volumes")
            return
        }
        #expect(volumes.contains { $0.jsonText.contains(#""hostPath":{"path":"/var/lib/cloister/simulated-machine","type":"DirectoryOrCreate"}"#) })
        #expect(
            operations["/spec/containers/0/env"]?.jsonText.contains(#""name":"CLOISTER_SIMULATION_STATE_DIR","value":"/cloister/simulated-machine""#)
                == true)
        #expect(operations["/spec/containers/0/env"]?.jsonText.contains(#""name":"CLOISTER_PLATFORM","value":"simulation""#) == true)
    }

    @Test func withoutAVerifiedRootThePodIsAdmittedWithAWarningThatNamesWhatToDo() throws {
        let unverified = MarbleInjector(coordinatorAddress: "c:2001")
        let decision = try Self.decision(unverified, Self.review(labels: ["marblerun/marbletype": "web"]))
        guard case .allowed(_, let warnings) = decision else {
            Issue.record("denied: \(decision)")
            return
        }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("cloister certificate root") == true)
        let answer = String(
            decoding: try AdmissionReviewExchange(injector: unverified).answer(Self.review(labels: ["marblerun/marbletype": "web"])).bytes,
            as: UTF8.self)
        #expect(answer.contains(#""warnings":["cloister: no verified Coordinator root"#))
    }

    @Test func aDenialIsAStatusWithAnIntegerCode() throws {
        let answer = String(decoding: try AdmissionReviewExchange(injector: injector).answer(Self.review(labels: [:])).bytes, as: UTF8.self)
        #expect(
            answer.contains(
                #""uid":"u-1","allowed":false,"status":{"status":"Failure","reason":"Forbidden","message":"pod 'p' has no value for the label marblerun/marbletype"#
            ))
        #expect(answer.contains(#""code":403"#))
    }

    @Test func keysWithSlashesAndTildesAreEscapedInPointers() {
        #expect(
            JSONPointer(["spec", "containers", "0", "resources", "limits", "sgx.intel.com/epc"]).description
                == "/spec/containers/0/resources/limits/sgx.intel.com~1epc")
        #expect(JSONPointer(["a~b/c"]).description == "/a~0b~1c")
    }

    @Test func nullArraysAreReplacedWholeAndExistingOnesAppendedTo() throws {
        let containers = #"[{"name": "app", "image": "a", "env": null, "volumeMounts": [], "resources": {"limits": null}}]"#
        let operations = Self.operations(
            try Self.decision(
                injector, Self.review(labels: ["marblerun/marbletype": "web"], containers: containers, extraSpec: #", "volumes": null"#)))
        #expect(operations["/spec/containers/0/env"] != nil)
        #expect(operations["/spec/containers/0/volumeMounts/-"] != nil)
        #expect(operations["/spec/containers/0/resources/limits"] != nil)
        #expect(operations["/spec/volumes"] != nil)
    }

    @Test func malformedReviewsAreRefusedByName() {
        let exchange = AdmissionReviewExchange(injector: injector)
        let cases: [(String, String)] = [
            ("[]", "not an AdmissionReview"),
            (#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}"#, "without a request"),
            (
                #"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "kind": {"kind": "Pod"}, "object": {"spec": {}}}}"#,
                "'request.object.spec.containers' is missing"
            ),
            (
                #"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "kind": {"kind": "Pod"}, "object": {"spec": {"containers": [{"name": 1}]}}}}"#,
                "'request.object.spec.containers[0].name' is not String"
            ),
        ]
        for (body, message) in cases {
            #expect(throws: AdmissionReviewError.self) { try exchange.answer(Array(body.utf8)) }
            do {
                _ = try exchange.answer(Array(body.utf8))
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
        let oversized = [UInt8](repeating: 0x20, count: AdmissionReviewExchange.maximumRequestBytes + 1)
        #expect(throws: AdmissionReviewError.self) { try exchange.answer(oversized) }
    }
}
