/// The Cloister release that this API belongs to: the CLI prints it, and the Coordinator reports it in
/// `GET /api/v2/status` so that a client can tell which release it verified.
public enum CloisterRelease {
    public static let version = "0.1.0"
}
