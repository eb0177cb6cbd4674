/// Durations in nanoseconds, summarized by nearest-rank percentiles.
struct Samples {
    private(set) var nanoseconds: [UInt64] = []

    mutating func append(_ value: UInt64) {
        nanoseconds.append(value)
    }

    var count: Int { nanoseconds.count }

    /// The nearest-rank percentile in milliseconds (`fraction` 0.5 is the median).
    func percentile(_ fraction: Double) -> Double {
        guard !nanoseconds.isEmpty else { return .nan }
        let sorted = nanoseconds.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return Double(sorted[min(max(rank, 0), sorted.count - 1)]) / 1e6
    }

    var median: Double { percentile(0.5) }

    /// The first sample in milliseconds: in a fresh process, the cold cost (first use of the runtime, TLS, threads).
    var first: Double { nanoseconds.first.map { Double($0) / 1e6 } ?? .nan }
}
