import Coordinator
import Crypto
import Dispatch
import Foundation
import Platform
import Synchronization
import TestSupport
import Testing

/// Holds every quote the platform makes while closed, until the test opens it, and tells the test when a quote is
/// being held. A held quote gives up after a long wait, so that a Coordinator that waits on it cannot hang the run;
/// ``gaveUp`` then records it.
final class QuoteGate: Sendable {
    let held: AsyncStream<Void>
    private let heldContinuation: AsyncStream<Void>.Continuation
    private let closed = Atomic<Bool>(false)
    private let release = DispatchSemaphore(value: 0)
    private let gaveUpFlag = Atomic<Bool>(false)

    init() {
        (held, heldContinuation) = AsyncStream<Void>.makeStream()
    }

    var gaveUp: Bool { gaveUpFlag.load(ordering: .sequentiallyConsistent) }

    func close() { closed.store(true, ordering: .sequentiallyConsistent) }

    func open() {
        closed.store(false, ordering: .sequentiallyConsistent)
        release.signal()
    }

    func pass() {
        guard closed.load(ordering: .sequentiallyConsistent) else { return }
        heldContinuation.yield()
        if release.wait(timeout: .now() + 30) == .timedOut { gaveUpFlag.store(true, ordering: .sequentiallyConsistent) }
    }
}

/// A platform whose quotes pass through a ``QuoteGate``.
struct GatedPlatform: EnclavePlatform {
    let underlying: any EnclavePlatform
    let gate: QuoteGate

    var kind: PlatformKind { underlying.kind }

    func quote(reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        gate.pass()
        return try underlying.quote(reportData: reportData)
    }

    func sealingKey(_ policy: SealingKeyPolicy) throws(PlatformError) -> SymmetricKey { try underlying.sealingKey(policy) }

    func measurement() throws(PlatformError) -> EnclaveMeasurement? { try underlying.measurement() }

    func setEncryptedFileKey(named name: String, key: [UInt8]) throws(PlatformError) {
        try underlying.setEncryptedFileKey(named: name, key: key)
    }
}

@Suite struct QuoteConcurrencyTests {
    @Test func aQuoteBeingMadeDoesNotHoldUpTheCoordinator() async throws {
        let fixture = try CoordinatorFixture()
        defer { fixture.remove() }
        let gate = QuoteGate()
        var configuration = try fixture.configuration()
        configuration.platform = GatedPlatform(underlying: configuration.platform, gate: gate)
        let coordinator = try await Coordinator.start(configuration)

        gate.close()
        let nonce: [UInt8] = [1, 2, 3, 4]
        let slowQuote = Task { try await coordinator.quote(nonce: nonce) }
        var held = gate.held.makeAsyncIterator()
        await held.next()
        // While the quote is held inside the platform, the Coordinator still answers and changes state.
        #expect(coordinator.status().state == .acceptingManifest)
        _ = try await coordinator.setManifest(TestManifests.standard())
        gate.open()

        let quote = try await slowQuote.value
        #expect(!gate.gaveUp, "the Coordinator waited for the quote to finish before answering")
        #expect(quote.nonce == nonce)
        #expect(coordinator.status().state == .acceptingMarbles)
    }
}
