import Foundation

/// Collateral already fetched, kept per source, TEE type, FMSPC and PCK CA until its earliest `nextUpdate`.
///
/// Every lookup names the instant it is made for, so tests and `--at` drive expiry without a wall clock. In
/// offline mode nothing is fetched: only current cached collateral is served, and a miss says so plainly.
public actor CollateralCache {
    public enum Mode: Sendable, Hashable {
        /// Serve current cached collateral, fetch on a miss or after expiry.
        case online
        /// Serve only current cached collateral; never contact a source.
        case offline
    }

    public struct Key: Sendable, Hashable {
        public let source: String
        public let request: CollateralRequest
    }

    public struct Entry: Sendable {
        public let collateral: Collateral
        public let validity: CollateralValidity
        public var validUntil: Date { validity.earliestNextUpdate }
    }

    /// Counts of answers, for diagnostics and tests.
    public struct Statistics: Sendable, Hashable {
        public var hits = 0
        public var fetches = 0
    }

    private var entries: [Key: Entry] = [:]
    private var inFlight: [Key: Task<Result<Entry, CollateralSourceError>, Never>] = [:]
    public private(set) var statistics = Statistics()

    public init() {}

    /// Collateral for `request` from `source`, current at `instant`.
    public func collateral(
        for request: CollateralRequest, from source: any CollateralSource, at instant: Date, mode: Mode = .online
    ) async throws(CollateralSourceError) -> Collateral {
        let key = Key(source: source.identity, request: request)
        if let entry = entries[key], instant < entry.validUntil {
            statistics.hits += 1
            return entry.collateral
        }
        if mode == .offline {
            if let entry = entries[key] {
                throw .offlineCacheExpired(source: source.identity, request: request, nextUpdate: entry.validUntil, instant: instant)
            }
            throw .offlineNotCached(source: source.identity, request: request)
        }
        // Concurrent misses for one key share a single fetch instead of all asking the service.
        if let running = inFlight[key] {
            statistics.hits += 1
            return try await running.value.get().collateral
        }
        let fetch = Task<Result<Entry, CollateralSourceError>, Never> {
            do throws(CollateralSourceError) {
                let collateral = try await source.collateral(for: request)
                return .success(Entry(collateral: collateral, validity: try CollateralValidity(of: collateral)))
            } catch {
                return .failure(error)
            }
        }
        inFlight[key] = fetch
        statistics.fetches += 1
        let outcome = await fetch.value
        inFlight[key] = nil
        let entry = try outcome.get()
        entries[key] = entry
        return entry.collateral
    }
}
