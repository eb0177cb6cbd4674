import Foundation

/// The parts of an `admission.k8s.io/v1` AdmissionReview that the injector reads. Everything else the API server
/// sends is ignored, so that new Kubernetes fields never make a review undecodable.
public struct AdmissionReview: Sendable, Decodable {
    public let apiVersion: String?
    public let kind: String?
    public let request: AdmissionRequest?
}

public struct AdmissionRequest: Sendable, Decodable {
    public let uid: String
    public let kind: GroupVersionKind
    public let namespace: String?
    public let operation: String?
    /// The pod, decoded only when `kind` says it is one.
    public let pod: Pod?

    private enum CodingKeys: String, CodingKey { case uid, kind, namespace, operation, object }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uid = try container.decode(String.self, forKey: .uid)
        kind = try container.decode(GroupVersionKind.self, forKey: .kind)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        operation = try container.decodeIfPresent(String.self, forKey: .operation)
        pod = kind.isPod ? try container.decodeIfPresent(Pod.self, forKey: .object) : nil
    }
}

public struct GroupVersionKind: Sendable, Decodable, CustomStringConvertible {
    public let group: String?
    public let version: String?
    public let kind: String

    var isPod: Bool { (group ?? "").isEmpty && kind == "Pod" }

    public var description: String {
        let groupVersion = [group ?? "", version ?? ""].filter { !$0.isEmpty }.joined(separator: "/")
        return groupVersion.isEmpty ? kind : "\(kind) (\(groupVersion))"
    }
}

public struct Pod: Sendable, Decodable {
    public let metadata: ObjectMetadata?
    public let spec: PodSpec
}

public struct ObjectMetadata: Sendable, Decodable {
    public let name: String?
    public let generateName: String?
    public let namespace: String?
    public let labels: [String: String]?
}

public struct PodSpec: Sendable, Decodable {
    public let containers: [Container]
    public let initContainers: [Container]?
    public let volumes: [NamedItem]?
    public let tolerations: [Toleration]?
}

public struct Container: Sendable, Decodable {
    public let name: String
    public let env: [NamedItem]?
    public let volumeMounts: [VolumeMount]?
    public let resources: ResourceRequirements?
}

/// An env var or a volume: only the name matters to the injector.
public struct NamedItem: Sendable, Decodable {
    public let name: String
}

public struct VolumeMount: Sendable, Decodable {
    public let name: String
    public let mountPath: String
}

public struct ResourceRequirements: Sendable, Decodable {
    /// Resource names only: the injector never changes a quantity a pod sets, so it need not parse one.
    public let limits: Set<String>?

    private enum CodingKeys: String, CodingKey { case limits }
    private struct ResourceName: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.limits), try !container.decodeNil(forKey: .limits) else {
            limits = nil
            return
        }
        limits = Set(try container.nestedContainer(keyedBy: ResourceName.self, forKey: .limits).allKeys.map(\.stringValue))
    }
}

public struct Toleration: Sendable, Decodable {
    public let key: String?
}
