import Foundation
import Launcher
import Synchronization

/// The figures of one concurrency level.
struct ActivationLevelResult: Sendable {
    let concurrency: Int
    let succeeded: Int
    let failures: [String]
    let seconds: Double
    /// Latencies of the successful activations, sorted, in seconds.
    let latencies: [Double]
    let coordinatorCPUSeconds: Double?
    let clientCPUSeconds: Double

    var rate: Double { Double(succeeded) / seconds }
    var attempts: Int { max(succeeded + failures.count, 1) }

    /// Nearest-rank percentile, in milliseconds.
    func percentile(_ fraction: Double) -> Double {
        guard !latencies.isEmpty else { return .nan }
        let rank = Int((fraction * Double(latencies.count)).rounded(.up)) - 1
        return latencies[min(max(rank, 0), latencies.count - 1)] * 1000
    }
}

/// Activates prepared marbles against the marble API with `concurrency` marbles in flight at any time. Each activation
/// is what `cloister-premain` does over the network: a new TCP connection, a mutual-TLS handshake with the marble's
/// certificate, verification of the Coordinator's chain against the root, one POST, the answer.
struct ActivationLoad: Sendable {
    let client: ActivationClient
    let coordinatorPID: Int32?

    func run(_ identities: [MarbleIdentity], concurrency: Int) async throws -> ActivationLevelResult {
        let queue = WorkQueue(count: identities.count)
        let clock = ContinuousClock()
        let coordinatorBefore = try coordinatorPID.map(ProcessorTime.ofProcess)
        let clientBefore = ProcessorTime.ofSelf()
        let start = clock.now
        let outcomes = await withTaskGroup(of: ([Double], [String]).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    var failures: [String] = []
                    while true {
                        guard let index = queue.take() else { break }
                        let identity = identities[index]
                        let began = clock.now
                        do {
                            _ = try await client.activate(identity.request, key: identity.key)
                            latencies.append(Self.seconds(clock.now - began))
                        } catch {
                            failures.append("\(error)")
                        }
                    }
                    return (latencies, failures)
                }
            }
            var all: ([Double], [String]) = ([], [])
            for await outcome in group {
                all.0 += outcome.0
                all.1 += outcome.1
            }
            return all
        }
        let elapsed = Self.seconds(clock.now - start)
        let coordinatorAfter = try coordinatorPID.map(ProcessorTime.ofProcess)
        let coordinatorCPU = coordinatorBefore.flatMap { before in coordinatorAfter.map { $0 - before } }
        return ActivationLevelResult(
            concurrency: concurrency, succeeded: outcomes.0.count, failures: outcomes.1, seconds: elapsed,
            latencies: outcomes.0.sorted(), coordinatorCPUSeconds: coordinatorCPU,
            clientCPUSeconds: ProcessorTime.ofSelf() - clientBefore)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (whole, fraction) = duration.components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Hands out the indices 0..<count once each to whichever worker asks next.
final class WorkQueue: Sendable {
    private let next = Atomic<Int>(0)
    private let count: Int

    init(count: Int) {
        self.count = count
    }

    func take() -> Int? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < count ? index : nil
    }
}
