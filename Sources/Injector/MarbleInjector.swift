import Foundation

/// The marble-injector's decision for one pod, as MarbleRun's webhook makes it: every container (or the one the
/// `marblerun/marblecontainer` label names) gets the marble environment, the Pod UID as its marble UUID through a
/// downward-API volume, and SGX resources and a toleration, each only where the pod does not set it already. Patching
/// an injected pod again adds nothing.
public struct MarbleInjector: Sendable {
    public static let marbleTypeLabel = "marblerun/marbletype"
    public static let marbleContainerLabel = "marblerun/marblecontainer"
    public static let resourceInjectionLabel = "marblerun/resource-injection"
    public static let uuidVolumeName = "marble-uuid-file"
    public static let simulatedMachineVolumeName = "cloister-simulated-machine"
    public static let simulatedMachineMountPath = "/cloister/simulated-machine"
    public static let intelEPCResource = "sgx.intel.com/epc"

    /// The marble API address marbles are told to use (`EDG_MARBLE_COORDINATOR_ADDR`).
    public let coordinatorAddress: String
    /// The EPC resource name of the cluster's SGX device plugin.
    public let sgxResource: String
    public let clusterDomain: String
    /// In simulation, the node directory holding the simulated SGX machine that the Coordinator shares; marbles get
    /// it mounted, `CLOISTER_PLATFORM=simulation` and no SGX resources (the nodes have none).
    public let simulationMachinePath: String?
    /// The Coordinator's root certificate (PEM) as a user verified it (`cloister certificate root`): marbles refuse a
    /// Coordinator that does not chain to it (`CLOISTER_COORDINATOR_ROOT_CA`). Unknown until someone verified it.
    public var coordinatorRootPEM: String?

    public init(
        coordinatorAddress: String, sgxResource: String = intelEPCResource, clusterDomain: String = "cluster.local",
        simulationMachinePath: String? = nil, coordinatorRootPEM: String? = nil
    ) {
        self.coordinatorAddress = coordinatorAddress
        self.sgxResource = sgxResource
        self.clusterDomain = clusterDomain
        self.simulationMachinePath = simulationMachinePath
        self.coordinatorRootPEM = coordinatorRootPEM
    }

    static let missingRootWarning =
        "cloister: no verified Coordinator root certificate is configured, so the marble will refuse to start; verify the "
        + "Coordinator (cloister certificate root -o root.pem) and store the file in the injector's coordinator-root-ca ConfigMap"

    /// The SGX limits a marble container gets: Intel's device plugin has three resources, the others one EPC size.
    public var sgxLimits: [(String, String)] {
        sgxResource == Self.intelEPCResource
            ? [(Self.intelEPCResource, "10Mi"), ("sgx.intel.com/enclave", "1"), ("sgx.intel.com/provision", "1")]
            : [(sgxResource, "10")]
    }

    public func decide(_ request: AdmissionRequest) -> AdmissionDecision {
        guard let pod = request.pod else {
            return .denied(
                "the marble-injector mutates Pods only, but this review is for a \(request.kind); "
                    + "check that the MutatingWebhookConfiguration's rules select only pods (apiGroups \"\", resources \"pods\")")
        }
        let labels = pod.metadata?.labels ?? [:]
        guard let marbleType = labels[Self.marbleTypeLabel], !marbleType.isEmpty else {
            return .denied(
                "pod \(podName(pod)) has no value for the label \(Self.marbleTypeLabel), which names its marble type in the "
                    + "Coordinator's manifest; set it (for example \(Self.marbleTypeLabel): backend), or keep the pod out of "
                    + "the webhook's objectSelector")
        }
        let containers = pod.spec.containers
        var targets = Array(containers.indices)
        if let only = labels[Self.marbleContainerLabel], !only.isEmpty {
            guard let index = containers.firstIndex(where: { $0.name == only }) else {
                return .denied(
                    "pod \(podName(pod)) names the container '\(only)' in \(Self.marbleContainerLabel), but its containers are "
                        + "\(containers.map { "'\($0.name)'" }.joined(separator: ", ")); correct the label")
            }
            targets = [index]
        }
        let namespace = (request.namespace ?? pod.metadata?.namespace ?? "default")
        let injectResources = simulationMachinePath == nil && labels[Self.resourceInjectionLabel] != "disabled"
        var patch: [JSONPatchOperation] = []
        let uuidDirectory = "/\(marbleType)-uid"
        let environment: [(String, String)] =
            [
                ("EDG_MARBLE_COORDINATOR_ADDR", coordinatorAddress),
                ("EDG_MARBLE_TYPE", marbleType),
                ("EDG_MARBLE_DNS_NAMES", "\(marbleType),\(marbleType).\(namespace),\(marbleType).\(namespace).svc.\(clusterDomain)".lowercased()),
                ("EDG_MARBLE_UUID_FILE", "\(uuidDirectory)/uuid-file"),
            ]
            + (simulationMachinePath == nil
                ? [] : [("CLOISTER_PLATFORM", "simulation"), ("CLOISTER_SIMULATION_STATE_DIR", Self.simulatedMachineMountPath)])
            + (coordinatorRootPEM.map { [("CLOISTER_COORDINATOR_ROOT_CA", $0)] } ?? [])
        var mounts = [(Self.uuidVolumeName, uuidDirectory)]
        if simulationMachinePath != nil { mounts.append((Self.simulatedMachineVolumeName, Self.simulatedMachineMountPath)) }

        for index in targets {
            let container = containers[index]
            let base = JSONPointer(["spec", "containers"]).appending(index)
            let presentNames = Set((container.env ?? []).map(\.name))
            patch += appending(
                environment.filter { !presentNames.contains($0.0) }.map { .object([("name", .string($0.0)), ("value", .string($0.1))]) },
                to: base.appending("env"), exists: container.env != nil)
            let mountedNames = Set((container.volumeMounts ?? []).map(\.name))
            let mountedPaths = Set((container.volumeMounts ?? []).map(\.mountPath))
            patch += appending(
                mounts.filter { !mountedNames.contains($0.0) && !mountedPaths.contains($0.1) }
                    .map { .object([("name", .string($0.0)), ("mountPath", .string($0.1)), ("readOnly", .bool(true))]) },
                to: base.appending("volumeMounts"), exists: container.volumeMounts != nil)
            if injectResources {
                patch += resourceLimits(for: container, at: base.appending("resources"))
            }
        }

        let volumeNames = Set((pod.spec.volumes ?? []).map(\.name))
        var volumes: [PatchValue] = []
        if !volumeNames.contains(Self.uuidVolumeName) {
            volumes.append(
                .object([
                    ("name", .string(Self.uuidVolumeName)),
                    (
                        "downwardAPI",
                        .object([
                            (
                                "items",
                                .array([.object([("path", .string("uuid-file")), ("fieldRef", .object([("fieldPath", .string("metadata.uid"))]))])])
                            )
                        ])
                    ),
                ]))
        }
        if let machine = simulationMachinePath, !volumeNames.contains(Self.simulatedMachineVolumeName) {
            volumes.append(
                .object([
                    ("name", .string(Self.simulatedMachineVolumeName)),
                    ("hostPath", .object([("path", .string(machine)), ("type", .string("DirectoryOrCreate"))])),
                ]))
        }
        patch += appending(volumes, to: JSONPointer(["spec", "volumes"]), exists: pod.spec.volumes != nil)
        if injectResources, !(pod.spec.tolerations ?? []).contains(where: { $0.key == sgxResource }) {
            let toleration = PatchValue.object([("key", .string(sgxResource)), ("operator", .string("Exists")), ("effect", .string("NoSchedule"))])
            patch += appending([toleration], to: JSONPointer(["spec", "tolerations"]), exists: pod.spec.tolerations != nil)
        }
        var warnings: [String] = []
        if coordinatorRootPEM == nil,
            targets.contains(where: { !(containers[$0].env ?? []).contains { $0.name == "CLOISTER_COORDINATOR_ROOT_CA" } })
        {
            warnings.append(Self.missingRootWarning)
        }
        return .allowed(patch, warnings: warnings)
    }

    private func resourceLimits(for container: Container, at resources: JSONPointer) -> [JSONPatchOperation] {
        let present = container.resources?.limits ?? []
        let missing = sgxLimits.filter { !present.contains($0.0) }.map { ($0.0, PatchValue.string($0.1)) }
        guard !missing.isEmpty else { return [] }
        if container.resources == nil {
            return [.add(resources, .object([("limits", .object(missing))]))]
        }
        if container.resources?.limits == nil {
            return [.add(resources.appending("limits"), .object(missing))]
        }
        return missing.map { .add(resources.appending("limits").appending($0.0), $0.1) }
    }

    /// Adds `elements` to the array at `pointer`: the whole array when the pod has none, element by element otherwise.
    private func appending(_ elements: [PatchValue], to pointer: JSONPointer, exists: Bool) -> [JSONPatchOperation] {
        guard !elements.isEmpty else { return [] }
        return exists ? elements.map { .add(pointer.appendingToArray, $0) } : [.add(pointer, .array(elements))]
    }

    private func podName(_ pod: Pod) -> String {
        if let name = pod.metadata?.name, !name.isEmpty { return "'\(name)'" }
        if let prefix = pod.metadata?.generateName, !prefix.isEmpty { return "'\(prefix)' (generated name)" }
        return "(unnamed)"
    }
}

public enum AdmissionDecision: Sendable, Equatable {
    /// Admitted with this patch (empty: unchanged), and warnings the API server shows to the user (kubectl prints them).
    case allowed([JSONPatchOperation], warnings: [String])
    case denied(String)
}
