import OCI

/// The source or destination a reference names, in skopeo's transports.
public enum ImageEndpoints {
    public static func source(_ reference: ImageReference, client: RegistryClient) throws(ConversionError) -> any ImageSource {
        switch reference {
        case .registry(let registry): return client.source(registry)
        case .layout(let layout): return LayoutSource(layout)
        case .dockerArchive(let path): return DockerArchiveSource(path: path)
        }
    }

    public static func destination(_ reference: ImageReference, client: RegistryClient) throws(ConversionError) -> any ImageDestination {
        switch reference {
        case .registry(let registry):
            return client.destination(registry)
        case .layout(let layout):
            do {
                return try LayoutDestination(layout)
            } catch {
                throw ConversionError(
                    .unusableInput, "oci:\(layout)", found: "\(error)", expected: "a writable OCI layout directory", hint: "check the path")
            }
        case .dockerArchive(let path):
            throw ConversionError(
                .unusableInput, "docker-archive:\(path)", found: "a docker-archive destination", expected: "docker://... or oci:DIR[:TAG]",
                hint: "write to an OCI layout or a registry")
        }
    }
}
